// store: the unread index (docs/storage.md, `unread`): the part of an event's batch that
// keeps ordinals, removal markers, mentions and follows, and the counts derived from them.
#include "storage/store.hpp"

#include <algorithm>

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include "storage/batch_access.hpp"
#include "storage/keys.hpp"
#include "storage/mentions.hpp"
#include "storage/store_internal.hpp"

namespace sb::storage {

using namespace schema;
using detail::be64_value;
using detail::from_rocks;
using detail::record_name;

status store::prepare_unread(const event& e, storage::batch& into,
                             const unread_hints& hints) const {
  // Read cursors, ordinals, mentions, follows: written with the event, never counted later.
  auto& batch = batch_access::native(into);
  rocksdb::Status s;
  auto add = [&s](rocksdb::Status r) {
    if (s.ok())
      s = std::move(r);
  };
  namespace tag = keys::unread_tag;
  auto* idx = cf(cf_unread);
  const auto ch = e.channel_id;
  if (e.kind == event_kind::message && e.thread_root == 0) {
    if (hints.ordinal != 0)
      add(batch.Put(idx, keys::unread_key(tag::ordinal, {ch, e.seq}), be64_value(hints.ordinal)));
    // Your own message is read: the cursor moves to it (forward only).
    add(batch.Merge(cf(cf_read_state), keys::read_state_key(e.author, ch), be64_value(e.seq)));
    auto m = parse_mentions(e.text);
    for (auto user : m.users)
      if (user != e.author)
        add(batch.Put(idx, keys::unread_key(tag::mention, {user, ch, e.seq}), ""));
    if (m.everyone)
      add(batch.Put(idx, keys::unread_key(tag::everyone, {ch, e.seq}), be64_value(e.author)));
  } else if (e.kind == event_kind::message) {
    // A reply: its author, the root's author and everyone it mentions follow the thread.
    const auto root = e.thread_root;
    add(batch.Merge(cf(cf_read_state), keys::thread_read_key(e.author, ch, root),
                    be64_value(e.seq)));
    add(batch.Put(idx, keys::unread_key(tag::follow, {e.author, ch, root}), ""));
    if (hints.root_author != 0 && hints.root_author != e.author)
      add(batch.Put(idx, keys::unread_key(tag::follow, {hints.root_author, ch, root}), ""));
    for (auto user : parse_mentions(e.text).users)
      if (user != e.author)
        add(batch.Put(idx, keys::unread_key(tag::follow, {user, ch, root}), ""));
  } else if (e.kind == event_kind::remove) {
    add(hints.target_root == 0
          ? batch.Put(idx, keys::unread_key(tag::removed, {ch, e.target_seq}), "")
          : batch.Put(idx, keys::unread_key(tag::removed_reply, {ch, hints.target_root,
                                                                 e.target_seq}), ""));
  }
  return from_rocks(s, "building unread index for " + record_name(e.channel_id, e.seq));
}

// -- counts ------------------------------------------------------------------------------

namespace {

/// The key just past every key that starts with `prefix` (prefix | ff*16 | 00 suffices for
/// the fixed-width keys of `unread`).
std::string past_prefix(std::string prefix) {
  prefix.append(16, '\xff');
  prefix.push_back('\0');
  return prefix;
}

} // namespace

result<std::uint64_t> store::count_keys(std::size_t cf_index, const std::string& lower,
                                        const std::string& upper, std::uint64_t cap) const {
  rocksdb::Slice lower_s{lower}, upper_s{upper};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  ro.iterate_upper_bound = &upper_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_index))};
  std::uint64_t n = 0;
  for (it->Seek(lower_s); it->Valid() && n < cap; it->Next())
    ++n;
  if (!it->status().ok())
    return from_rocks(it->status(), std::string{"counting in "} + cf_names[cf_index]);
  return n;
}

result<std::uint64_t> store::message_ordinal(std::uint64_t channel, std::uint64_t seq) const {
  namespace tag = keys::unread_tag;
  if (seq == 0)
    return std::uint64_t{0};
  std::string lower = keys::unread_key(tag::ordinal, {channel});
  std::string target = keys::unread_key(tag::ordinal, {channel, seq});
  rocksdb::Slice lower_s{lower};
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_s;
  std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
  it->SeekForPrev(target);
  if (!it->Valid()) {
    if (!it->status().ok())
      return from_rocks(it->status(), "seeking message ordinal");
    return std::uint64_t{0};
  }
  auto v = keys::decode_id(it->value().ToStringView());
  if (it->key().size() != 17 || !v)
    return status{errc::corruption, "malformed message ordinal in channel "
                                      + std::to_string(channel)};
  return *v;
}

result<unread_counts> store::unread(std::uint64_t user, std::uint64_t channel,
                                    std::uint64_t head, bool dm) const {
  namespace tag = keys::unread_tag;
  unread_counts out;
  auto cursor = read_state(user, channel);
  if (!cursor)
    return cursor.error();
  out.last_read = *cursor;
  if (out.last_read >= head)
    return out;
  auto at_head = message_ordinal(channel, head);
  auto at_cursor = message_ordinal(channel, out.last_read);
  if (!at_head)
    return at_head.error();
  if (!at_cursor)
    return at_cursor.error();
  // Removed top-level messages after the cursor (every one is someone else's: your own
  // messages move your cursor past them).
  std::vector<std::uint64_t> removed;
  {
    std::string lower = keys::unread_key(tag::removed, {channel, out.last_read + 1});
    std::string upper = keys::unread_key(tag::removed, {channel, head});
    upper.push_back('\0');
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && removed.size() < max_counted_mentions; it->Next())
      removed.push_back(keys::get_be64(it->key().data() + 9));
    if (!it->status().ok())
      return from_rocks(it->status(), "scanning removed messages");
  }
  auto top = *at_head >= *at_cursor ? *at_head - *at_cursor : 0;
  out.unread = top >= removed.size() ? top - removed.size() : 0;
  if (dm) {
    out.mentions = out.unread;
    return out;
  }
  // Mentions after the cursor: personal ones and @here/@channel by others, minus removed.
  std::vector<std::uint64_t> seqs;
  auto scan = [&](std::string lower, std::string upper, std::size_t seq_at, bool check_author)
    -> status {
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && seqs.size() < 2 * max_counted_mentions; it->Next()) {
      if (check_author) {
        auto author = keys::decode_id(it->value().ToStringView());
        if (author && *author == user)
          continue;
      }
      seqs.push_back(keys::get_be64(it->key().data() + seq_at));
    }
    return from_rocks(it->status(), "scanning mentions");
  };
  std::string upper_p = keys::unread_key(tag::mention, {user, channel, head});
  upper_p.push_back('\0');
  if (auto st = scan(keys::unread_key(tag::mention, {user, channel, out.last_read + 1}), upper_p,
                     17, false);
      !st.ok())
    return st;
  std::string upper_a = keys::unread_key(tag::everyone, {channel, head});
  upper_a.push_back('\0');
  if (auto st = scan(keys::unread_key(tag::everyone, {channel, out.last_read + 1}), upper_a, 9,
                     true);
      !st.ok())
    return st;
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  std::uint64_t n = 0;
  for (auto seq : seqs)
    if (!std::binary_search(removed.begin(), removed.end(), seq))
      ++n;
  out.mentions = std::min(n, max_counted_mentions);
  return out;
}

result<followed_thread> store::thread_unread(std::uint64_t user, std::uint64_t channel,
                                             std::uint64_t root) const {
  namespace tag = keys::unread_tag;
  followed_thread out;
  out.channel = channel;
  out.root = root;
  auto stats = thread_info(channel, root);
  if (!stats)
    return stats.error();
  out.stats = *stats;
  auto cursor = read_state(user, channel, root);
  if (!cursor)
    return cursor.error();
  out.last_read = *cursor;
  if (out.last_read >= out.stats.last_reply_seq)
    return out;
  std::string upper = keys::pair_key(channel, root);
  upper.append(8, '\xff');
  upper.push_back('\0');
  auto replies = count_keys(cf_threads, keys::thread_reply_key(channel, root, out.last_read + 1),
                            upper, max_counted_mentions);
  if (!replies)
    return replies.error();
  auto removed = count_keys(cf_unread,
                            keys::unread_key(tag::removed_reply, {channel, root, out.last_read + 1}),
                            past_prefix(keys::unread_key(tag::removed_reply, {channel, root})),
                            max_counted_mentions);
  if (!removed)
    return removed.error();
  out.unread = *replies >= *removed ? *replies - *removed : 0;
  return out;
}

result<std::vector<followed_thread>> store::followed_threads(
  std::uint64_t user, std::pair<std::uint64_t, std::uint64_t> after, std::size_t limit) const {
  namespace tag = keys::unread_tag;
  std::vector<followed_thread> out;
  limit = std::min<std::size_t>(limit, 200);
  std::string lower = after.first == 0 && after.second == 0
                        ? keys::unread_key(tag::follow, {user})
                        : keys::unread_key(tag::follow, {user, after.first, after.second}) + '\0';
  std::string upper = past_prefix(keys::unread_key(tag::follow, {user}));
  std::vector<std::pair<std::uint64_t, std::uint64_t>> found;
  {
    rocksdb::Slice lower_s{lower}, upper_s{upper};
    rocksdb::ReadOptions ro;
    ro.iterate_lower_bound = &lower_s;
    ro.iterate_upper_bound = &upper_s;
    std::unique_ptr<rocksdb::Iterator> it{db_->NewIterator(ro, cf(cf_unread))};
    for (it->Seek(lower_s); it->Valid() && found.size() < limit; it->Next()) {
      auto key = it->key().ToStringView();
      if (key.size() != 25)
        return status{errc::corruption, "malformed follow key"};
      found.emplace_back(keys::get_be64(key.data() + 9), keys::get_be64(key.data() + 17));
    }
    if (!it->status().ok())
      return from_rocks(it->status(), "scanning followed threads");
  }
  for (auto [channel, root] : found) {
    auto t = thread_unread(user, channel, root);
    if (!t)
      return t.error();
    out.push_back(*t);
  }
  return out;
}

} // namespace sb::storage