// store: the event log and the indexes its events maintain (members, user_channels,
// threads, channels, reactions, idempotency, read cursors); the unread index part of a
// batch is in unread_index.cpp.
#include "storage/store.hpp"

#include <algorithm>
#include <map>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/batch_access.hpp"
#include "storage/keys.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;
using detail::be64_value;
using detail::from_rocks;
using detail::record_name;
using detail::two_be64;

// -- writes ------------------------------------------------------------------------------

status store::prepare(const event& e, storage::batch& into, const unread_hints& hints,
                      const rewrite_rows& rows) const {
  if (auto st = validate(e); !st.ok())
    return st;
  // Edits and removals rewrite earlier rows in this batch: nothing is added unless all fit.
  std::vector<event> rewrites;
  if (rewrites_rows(e.kind)) {
    auto r = rewrites_of(e, rows);
    if (!r)
      return r.error();
    for (auto& row : *r)
      if (auto st = validate(row); !st.ok())
        return st;
    rewrites = std::move(*r);
  }
  auto encoded = encode(e);
  auto& batch = batch_access::native(into);
  rocksdb::Status s;
  auto add = [&s](rocksdb::Status r) {
    if (s.ok())
      s = std::move(r);
  };
  add(batch.Put(cf(cf_events), keys::event_key(e.channel_id, e.seq), encoded));
  for (auto& row : rewrites) {
    add(batch.Put(cf(cf_events), keys::event_key(row.channel_id, row.seq), encode(row)));
    batch_access::rewritten(into).emplace_back(row.channel_id, row.seq);
  }
  if (!e.nonce.empty())
    add(batch.Put(cf(cf_idempotency), keys::idempotency_key(e.channel_id, e.author, e.nonce),
                  two_be64(e.seq, e.time_ms + opts_.idempotency_ttl_ms)));
  switch (e.kind) {
    case event_kind::message:
      if (e.thread_root != 0)
      {
        add(batch.Merge(cf(cf_threads), keys::thread_key(e.channel_id, e.thread_root),
                        two_be64(1, e.seq)));
        add(batch.Put(cf(cf_threads), keys::thread_reply_key(e.channel_id, e.thread_root, e.seq),
                      ""));
      }
      break;
    case event_kind::member_join:
      // A new member has read everything before their join: the history is not unread.
      add(batch.Merge(cf(cf_read_state), keys::read_state_key(e.member_user(), e.channel_id),
                      be64_value(e.seq)));
      add(batch.Put(cf(cf_members), keys::member_key(e.channel_id, e.member_user()),
                    be64_value(e.seq)));
      add(batch.Put(cf(cf_user_channels), keys::user_channel_key(e.member_user(), e.channel_id),
                    be64_value(e.seq)));
      break;
    case event_kind::member_leave:
      add(batch.Delete(cf(cf_members), keys::member_key(e.channel_id, e.member_user())));
      add(batch.Delete(cf(cf_user_channels),
                       keys::user_channel_key(e.member_user(), e.channel_id)));
      break;
    case event_kind::channel_created:
      add(batch.Put(cf(cf_channels), keys::id_key(e.channel_id), encoded));
      break;
    case event_kind::channel_updated:
      add(batch.Put(cf(cf_channels), keys::channel_attr_key(e.channel_id, e.attribute), encoded));
      break;
    case event_kind::reaction_add:
      add(batch.Put(cf(cf_reactions), keys::reaction_key(e.channel_id, e.target_seq, e.author,
                                                         e.emoji), ""));
      break;
    case event_kind::reaction_remove:
      add(batch.Delete(cf(cf_reactions),
                       keys::reaction_key(e.channel_id, e.target_seq, e.author, e.emoji)));
      break;
    default: break; // edits, removals (and the rows they rewrite), pins: only the log
  }
  if (!s.ok())
    return from_rocks(s, "building batch for " + record_name(e.channel_id, e.seq));
  return prepare_unread(e, into, hints);
}

result<batch> store::prepare(std::span<const event> events) const {
  storage::batch b;
  // (channel, seq) -> the rows of that message as the events so far leave them.
  std::map<std::pair<std::uint64_t, std::uint64_t>, rewrite_rows> known;
  for (const auto& e : events) {
    rewrite_rows rows;
    if (rewrites_rows(e.kind)) {
      if (auto i = known.find({e.channel_id, e.target_seq}); i != known.end()) {
        rows = i->second;
      } else {
        auto r = rows_for(e.channel_id, e.target_seq);
        if (!r)
          return r.error();
        rows = std::move(*r);
      }
    }
    if (auto st = prepare(e, b, {}, rows); !st.ok())
      return st;
    if (e.kind == event_kind::message)
      known[{e.channel_id, e.seq}] = rewrite_rows{e, std::nullopt};
    else if (rewrites_rows(e.kind))
      known[{e.channel_id, e.target_seq}] = rows_after(rows, e);
  }
  return b;
}

result<rewrite_rows> store::rows_for(std::uint64_t channel, std::uint64_t target) const {
  rewrite_rows rows;
  auto t = get_event(channel, target);
  if (!t)
    return t.error();
  rows.target = std::move(*t);
  if (rows.target && rows.target->kind == event_kind::message && rows.target->last_edit != 0) {
    auto le = get_event(channel, rows.target->last_edit);
    if (!le)
      return le.error();
    rows.last_edit = std::move(*le);
  }
  return rows;
}

status store::write(storage::batch& b, bool sync) {
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  write_pass pass{*this};
  if (auto s = check_writable(batch_access::native(b)); !s.ok())
    return s;
  auto s = from_rocks(db_->Write(wo, &batch_access::native(b)), "write");
  if (s.ok() && !b.rewritten().empty())
    note_rewritten(b); // after the write: a reader told of a row reads its new version
  return s;
}

void store::note_rewritten(const storage::batch& b) {
  std::lock_guard guard{journal_mutex_};
  auto epoch = journal_epoch_.load(std::memory_order_relaxed);
  for (auto& [channel, seq] : b.rewritten()) {
    journal_.emplace_back(++epoch, channel, seq);
    if (journal_.size() > max_rewrite_journal)
      journal_.pop_front();
  }
  journal_epoch_.store(epoch, std::memory_order_release);
}

rewritten_rows store::rewritten_since(std::uint64_t since) const {
  rewritten_rows out;
  out.epoch = journal_epoch_.load(std::memory_order_acquire);
  if (out.epoch == since)
    return out;
  std::lock_guard guard{journal_mutex_};
  out.epoch = journal_epoch_.load(std::memory_order_relaxed);
  if (since > out.epoch || journal_.empty() || std::get<0>(journal_.front()) > since + 1) {
    out.overflow = true; // forgotten (or an epoch of another store): drop everything
    return out;
  }
  for (auto& [epoch, channel, seq] : journal_)
    if (epoch > since)
      out.rows.emplace_back(channel, seq);
  return out;
}

status store::append(std::span<const event> events) {
  auto batch = prepare(events);
  if (!batch)
    return batch.error();
  return write(*batch, opts_.sync);
}

void store::prepare_read_state(storage::batch& into, std::uint64_t user,
                               std::uint64_t channel, std::uint64_t seq,
                               std::uint64_t root) const {
  // Merge cannot fail for a short key and 8-byte value without a batch size limit.
  (void) batch_access::native(into).Merge(cf(cf_read_state),
                                          root == 0 ? keys::read_state_key(user, channel)
                                                    : keys::thread_read_key(user, channel, root),
                                          be64_value(seq));
}

status store::set_read_state(std::uint64_t user, std::uint64_t channel, std::uint64_t seq) {
  storage::batch b;
  prepare_read_state(b, user, channel, seq);
  return write(b, opts_.sync);
}

status store::put_user(std::uint64_t user, std::string_view record) {
  rocksdb::WriteOptions wo;
  wo.sync = opts_.sync;
  write_pass pass{*this};
  if (auto s = check_writable(cf_users, keys::id_key(user), record); !s.ok())
    return s;
  return from_rocks(db_->Put(wo, cf(cf_users), keys::id_key(user),
                             rocksdb::Slice{record.data(), record.size()}),
                    "put_user");
}

result<bool> store::has_reaction(std::uint64_t channel, std::uint64_t seq, std::uint64_t user,
                                 std::string_view emoji) const {
  auto raw = get_raw(cf_reactions, keys::reaction_key(channel, seq, user, emoji));
  if (!raw)
    return raw.error();
  return raw->has_value();
}


// -- reads -------------------------------------------------------------------------------

namespace {

/// Decodes an events-CF record and checks it belongs to the key it was stored under.
result<event> decode_record(std::uint64_t channel, std::uint64_t seq, std::string_view value) {
  auto e = decode(value);
  if (!e)
    return status{errc::corrupt_record, record_name(channel, seq) + ": " + e.error().to_string()};
  if (e->channel_id != channel || e->seq != seq)
    return status{errc::corrupt_record, record_name(channel, seq) + ": stored under wrong key"};
  return e;
}

} // namespace

result<std::vector<event>> store::read_range(std::uint64_t channel, direction dir,
                                             std::uint64_t anchor, std::size_t limit) const {
  std::vector<event> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || (dir == direction::forward && anchor == latest_seq)
      || (dir == direction::backward && anchor == 0))
    return out;
  // Both bounds are always set, so no scan can leave the channel's key range.
  std::string lower = keys::event_key(channel, dir == direction::forward ? anchor + 1 : 0);
  std::string upper = dir == direction::backward && anchor != latest_seq
                        ? keys::event_key(channel, anchor)
                        : keys::scan_end(channel);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_events))};
  if (dir == direction::forward)
    it->Seek(lower_s);
  else
    it->SeekToLast();
  for (; it->Valid() && out.size() < limit;
       dir == direction::forward ? it->Next() : it->Prev()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != channel)
      return status{errc::corruption, "malformed key in events of channel "
                                        + std::to_string(channel)};
    auto e = decode_record(channel, key->second, it->value().ToStringView());
    if (!e)
      return e.error();
    out.push_back(std::move(*e));
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "scanning channel " + std::to_string(channel));
  return out;
}

result<std::optional<event>> store::get_event(std::uint64_t channel, std::uint64_t seq) const {
  auto raw = get_raw(cf_events, keys::event_key(channel, seq));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return std::optional<event>{};
  auto e = decode_record(channel, seq, **raw);
  if (!e)
    return e.error();
  return std::optional<event>{std::move(*e)};
}

result<std::uint64_t> store::last_seq(std::uint64_t channel) const {
  std::string lower = keys::event_key(channel, 0);
  std::string upper = keys::scan_end(channel);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_events))};
  it->SeekForPrev(keys::event_key(channel, latest_seq));
  if (it->Valid()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != channel)
      return status{errc::corruption, "malformed key in events of channel "
                                        + std::to_string(channel)};
    return key->second;
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "last_seq of channel " + std::to_string(channel));
  return std::uint64_t{0};
}

result<std::optional<std::uint64_t>> store::find_idempotent(std::uint64_t channel,
                                                            std::uint64_t author,
                                                            std::string_view nonce,
                                                            std::uint64_t now_ms) const {
  using opt = std::optional<std::uint64_t>;
  if (nonce.empty() || nonce.size() > max_nonce_bytes)
    return opt{};
  auto raw = get_raw(cf_idempotency, keys::idempotency_key(channel, author, nonce));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return opt{};
  auto v = keys::decode_pair(**raw);
  if (!v)
    return status{errc::corruption, "malformed idempotency entry in channel "
                                      + std::to_string(channel)};
  if (v->second <= now_ms)
    return opt{}; // expired: a late retry becomes a new message, by design of the TTL
  return opt{v->first};
}

result<thread_stats> store::thread_info(std::uint64_t channel, std::uint64_t root_seq) const {
  auto raw = get_raw(cf_threads, keys::thread_key(channel, root_seq));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return thread_stats{};
  auto v = keys::decode_pair(**raw);
  if (!v)
    return status{errc::corruption, "malformed thread counter in channel "
                                      + std::to_string(channel)};
  return thread_stats{v->first, v->second};
}

result<std::vector<std::uint64_t>> store::scan_second_halves(std::size_t cf_index,
                                                             std::uint64_t first,
                                                             std::uint64_t after,
                                                             std::size_t limit) const {
  std::vector<std::uint64_t> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || after == latest_seq)
    return out;
  std::string lower = keys::pair_key(first, after + 1);
  std::string upper = keys::scan_end(first);
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_index))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto key = keys::decode_pair(it->key().ToStringView());
    if (!key || key->first != first)
      return status{errc::corruption, std::string{"malformed key in "} + cf_names[cf_index]};
    out.push_back(key->second);
  }
  if (!it->status().ok())
    return from_rocks(it->status(), std::string{"scanning "} + cf_names[cf_index]);
  return out;
}

result<std::vector<std::uint64_t>> store::members_of(std::uint64_t channel,
                                                     std::uint64_t after_user,
                                                     std::size_t limit) const {
  return scan_second_halves(cf_members, channel, after_user, limit);
}

result<std::vector<std::uint64_t>> store::channels_of(std::uint64_t user,
                                                      std::uint64_t after_channel,
                                                      std::size_t limit) const {
  return scan_second_halves(cf_user_channels, user, after_channel, limit);
}

result<std::uint64_t> store::read_state(std::uint64_t user, std::uint64_t channel,
                                        std::uint64_t root) const {
  auto raw = get_raw(cf_read_state, root == 0 ? keys::read_state_key(user, channel)
                                              : keys::thread_read_key(user, channel, root));
  if (!raw)
    return raw.error();
  if (!raw->has_value())
    return std::uint64_t{0};
  auto v = keys::decode_id(**raw);
  if (!v)
    return status{errc::corruption, "malformed read marker"};
  return *v;
}

result<std::optional<channel_record>> store::channel_info(std::uint64_t channel) const {
  // One bounded scan: the 8-byte key (channel_created) sorts before its attribute keys.
  std::string lower = keys::id_key(channel);
  std::string upper = keys::id_key(channel);
  upper.append(9, '\xff');
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_channels))};
  std::optional<channel_record> out;
  auto corrupt = [channel](const std::string& what) {
    return status{errc::corrupt_record, "channel record " + std::to_string(channel) + ": " + what};
  };
  for (it->Seek(lower_s); it->Valid(); it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() < 8 || keys::get_be64(key.data()) != channel)
      break;
    auto e = decode(it->value().ToStringView());
    if (!e)
      return corrupt(e.error().to_string());
    if (key.size() == 8) {
      if (e->kind != event_kind::channel_created)
        return corrupt("not a channel_created event");
      out.emplace();
      out->id = channel;
      out->creator = e->author;
      out->workspace = e->subject;
      out->kind = e->channel_kind;
      if (e->channel_kind == "dm")
        out->fixed_members = parse_member_list(e->text);
      else
        out->name = e->text;
      continue;
    }
    if (!out)
      return corrupt("attribute without channel_created");
    if (e->attribute == channel_attr_name)
      out->name = e->text;
    else if (e->attribute == channel_attr_topic)
      out->topic = e->text;
    else if (e->attribute == channel_attr_archived)
      out->archived = e->text == "1";
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "reading channel record");
  return out;
}

result<std::vector<std::uint64_t>> store::thread_replies(std::uint64_t channel,
                                                         std::uint64_t root_seq,
                                                         std::uint64_t after,
                                                         std::size_t limit) const {
  std::vector<std::uint64_t> out;
  limit = std::min(limit, max_read_limit);
  if (limit == 0 || after == latest_seq)
    return out;
  std::string lower = keys::thread_reply_key(channel, root_seq, after + 1);
  std::string upper = keys::pair_key(channel, root_seq);
  upper.append(8, '\xff');
  upper.push_back('\0');
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_threads))};
  for (it->Seek(lower_s); it->Valid() && out.size() < limit; it->Next()) {
    auto key = it->key().ToStringView();
    if (key.size() != 24)
      return status{errc::corruption, "malformed key in threads"};
    out.push_back(keys::get_be64(key.data() + 16));
  }
  if (!it->status().ok())
    return from_rocks(it->status(), "scanning threads");
  return out;
}

result<std::vector<event>> store::get_events(std::uint64_t channel,
                                             std::span<const std::uint64_t> seqs) const {
  std::vector<event> out;
  out.reserve(seqs.size());
  for (auto seq : seqs) {
    auto e = get_event(channel, seq);
    if (!e)
      return e.error();
    if (*e)
      out.push_back(std::move(**e));
  }
  return out;
}

result<std::optional<std::string>> store::get_user(std::uint64_t user) const {
  return get_raw(cf_users, keys::id_key(user));
}

} // namespace sb::storage
