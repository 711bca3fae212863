// storage_reader: blocking reads on a detached actor (see reader.hpp). Stateless apart
// from the node context, so a restart after a crash loses nothing.
#include "actors/reader.hpp"

#include <algorithm>

#include <caf/event_based_actor.hpp>

#include "actors/chat_error.hpp"
#include "actors/interfaces.hpp"
#include "accounts/workspaces.hpp"
#include "actors/frame_cache.hpp"
#include "protocol/encode.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/registry.hpp"
#include "storage/store.hpp"

namespace sb::actors {

namespace {

caf::error storage_error(const storage::status& st) {
  // The message names keys by number only (storage's own rule); no message text.
  return caf::make_error(caf::sec::runtime_error, st.to_string());
}

} // namespace

channel_summary summary_of(const storage::channel_record& rec) {
  channel_summary s;
  s.id = rec.id;
  s.name = rec.name;
  s.kind = rec.kind;
  s.workspace = rec.workspace;
  s.topic = rec.topic;
  s.archived = rec.archived;
  s.fixed_members = rec.fixed_members;
  return s;
}

protocol::channel_info to_wire(const channel_summary& s) {
  protocol::channel_info c;
  c.id = s.id;
  c.name = s.name;
  c.kind = protocol::channel_kind_of(s.kind);
  c.head_seq = s.head;
  c.workspace = s.workspace;
  c.topic = s.topic;
  c.archived = s.archived;
  c.members = s.fixed_members;
  if (s.has_read_state)
    c.read = protocol::read_counts{s.last_read, s.unread, s.mentions};
  return c;
}

namespace {

caf::behavior reader(runtime::supervised_actor*, node_context_ptr ctx) {
  // Frames of recent replays, shared by every client resuming the same tail.
  auto cache = std::make_shared<frame_cache>(ctx->limits.replay_cache_bytes);
  return reader_actor::behavior_type{
    [ctx, cache](replay_atom, uint64_t channel, uint64_t after, uint64_t upto,
                 uint32_t limit) -> caf::result<event_page> {
      event_page page;
      page.channel = channel;
      if (upto <= after)
        return page;
      auto want = std::min<uint64_t>(limit == 0 ? 1 : limit, upto - after);
      // Rows edits and deletes rewrote since the last replay: their cached frames are stale.
      cache->forget_rewritten(ctx->db->rewritten_since(cache->rewrites_seen()));
      // Cached frames first (the log is gapless: seqs after+1, after+2, ...), then storage.
      uint64_t next = after + 1;
      while (page.seqs.size() < want && next <= upto) {
        auto f = cache->find(channel, next);
        if (!f)
          break;
        page.seqs.push_back(next);
        page.frames.push_back(std::move(f));
        ++next;
      }
      if (page.seqs.size() < want && next <= upto) {
        auto evs = ctx->db->read_range(channel, storage::direction::forward, next - 1,
                                       want - page.seqs.size());
        if (!evs)
          return storage_error(evs.error());
        for (auto& e : *evs) {
          if (e.seq > upto)
            break;
          auto f = std::make_shared<const std::string>(protocol::encode_event(e));
          cache->insert(channel, e.seq, f);
          page.seqs.push_back(e.seq);
          page.frames.push_back(std::move(f));
        }
      }
      page.has_more = !page.seqs.empty() && page.seqs.back() < upto
                      && page.seqs.size() == want;
      return page;
    },
    [ctx](history_atom, uint64_t channel, history_direction dir, uint64_t anchor,
          uint32_t limit) -> caf::result<history_page> {
      history_page page;
      page.channel = channel;
      if (dir == history_direction::around) {
        // Around: the anchor and older events (half), then newer ones; ascending.
        uint32_t half = std::max<uint32_t>(limit / 2, 1);
        uint64_t from = anchor == storage::latest_seq ? anchor : anchor + 1;
        auto older = ctx->db->read_range(channel, storage::direction::backward, from, half + 1);
        if (!older)
          return storage_error(older.error());
        bool more_before = older->size() > half;
        if (more_before)
          older->resize(half);
        std::reverse(older->begin(), older->end());
        uint32_t rest = limit - std::min(limit, half);
        auto newer = ctx->db->read_range(channel, storage::direction::forward, anchor, rest + 1);
        if (!newer)
          return storage_error(newer.error());
        bool more_after = newer->size() > rest;
        if (more_after)
          newer->resize(rest);
        page.events = std::move(*older);
        page.events.insert(page.events.end(), newer->begin(), newer->end());
        page.has_more = more_before || more_after;
        return page;
      }
      auto d = dir == history_direction::before ? storage::direction::backward
                                                : storage::direction::forward;
      // One extra event tells whether more exist without a second scan.
      auto evs = ctx->db->read_range(channel, d, anchor, limit + 1);
      if (!evs)
        return storage_error(evs.error());
      page.events = std::move(*evs);
      if (page.events.size() > limit) {
        page.events.resize(limit);
        page.has_more = true;
      }
      return page;
    },
    [ctx](thread_atom, uint64_t channel, uint64_t root, uint64_t after,
          uint32_t limit) -> caf::result<history_page> {
      // The root first (when `after` is 0), then its replies from the reply index.
      history_page page;
      page.channel = channel;
      if (after == 0) {
        auto r = ctx->db->get_event(channel, root);
        if (!r)
          return storage_error(r.error());
        if (!*r || (*r)->kind != storage::event_kind::message || (*r)->thread_root != 0)
          return make_chat_error(chat_errc::not_found, "no such thread root");
        page.events.push_back(std::move(**r));
      }
      auto seqs = ctx->db->thread_replies(channel, root, after, limit + 1);
      if (!seqs)
        return storage_error(seqs.error());
      if (seqs->size() > limit) {
        seqs->resize(limit);
        page.has_more = true;
      }
      auto evs = ctx->db->get_events(channel, *seqs);
      if (!evs)
        return storage_error(evs.error());
      page.events.insert(page.events.end(), evs->begin(), evs->end());
      return page;
    },
    [ctx](load_atom, uint64_t channel) -> caf::result<channel_load> {
      channel_load out;
      auto info = ctx->db->channel_info(channel);
      if (!info)
        return storage_error(info.error());
      if (!*info)
        return out;
      auto& rec = **info;
      out.exists = true;
      out.name = rec.name;
      out.kind = rec.kind;
      out.creator = rec.creator;
      out.workspace = rec.workspace;
      out.topic = rec.topic;
      out.archived = rec.archived;
      out.fixed_members = rec.fixed_members;
      auto last = ctx->db->last_seq(channel);
      if (!last)
        return storage_error(last.error());
      out.last_seq = *last;
      auto count = ctx->db->message_ordinal(channel, out.last_seq);
      if (!count)
        return storage_error(count.error());
      out.message_count = *count;
      uint64_t after = 0;
      for (;;) {
        auto page = ctx->db->members_of(channel, after);
        if (!page)
          return storage_error(page.error());
        out.members.insert(out.members.end(), page->begin(), page->end());
        if (page->size() < storage::max_read_limit)
          break;
        after = page->back();
      }
      return out;
    },
    [ctx](unread_atom, uint64_t user, uint64_t channel, uint64_t root, uint64_t head,
          bool dm) -> caf::result<read_state_info> {
      read_state_info out;
      out.user = user;
      out.channel = channel;
      out.thread_root = root;
      if (root == 0) {
        auto r = ctx->db->unread(user, channel, head, dm);
        if (!r)
          return storage_error(r.error());
        out.last_read = r->last_read;
        out.unread = r->unread;
        out.mentions = r->mentions;
      } else {
        auto t = ctx->db->thread_unread(user, channel, root);
        if (!t)
          return storage_error(t.error());
        out.last_read = t->last_read;
        out.unread = t->unread;
      }
      return out;
    },
    [cache](moved_atom) { cache->clear(); },
    [ctx](presence_atom, uint64_t user) -> caf::result<presence_load> {
      presence_load out;
      auto chans = ctx->db->channels_of(user, 0, ctx->limits.max_channels_per_user);
      if (!chans)
        return storage_error(chans.error());
      out.channels = std::move(*chans);
      out.workspaces.push_back(0); // everyone is in the node's default workspace
      if (ctx->workspaces) {
        auto ws = ctx->workspaces->of_user(user, 0, 1000);
        if (!ws)
          return make_chat_error(chat_errc::storage_failed, "reading workspaces");
        for (auto w : *ws)
          if (w != 0)
            out.workspaces.push_back(w);
      }
      auto rec = ctx->db->get_record(storage::table::presence_status,
                                     storage::schema::presence_status_key(user));
      if (!rec)
        return storage_error(rec.error());
      if (*rec) {
        auto nul = (*rec)->find('\0');
        out.stored = true;
        out.manual = (*rec)->substr(0, nul);
        out.custom = nul == std::string::npos ? "" : (*rec)->substr(nul + 1);
      }
      return out;
    },
    [ctx](ready_atom, uint64_t user, uint32_t max) -> caf::result<std::vector<channel_summary>> {
      std::vector<channel_summary> out;
      auto chans = ctx->db->channels_of(user, 0, max);
      if (!chans)
        return storage_error(chans.error());
      for (auto ch : *chans) {
        channel_summary s;
        s.id = ch;
        if (auto info = ctx->db->channel_info(ch); info && *info)
          s = summary_of(**info);
        s.id = ch;
        if (auto last = ctx->db->last_seq(ch); last)
          s.head = *last;
        if (auto r = ctx->db->unread(user, ch, s.head, s.kind == "dm"); r) {
          s.has_read_state = true;
          s.last_read = r->last_read;
          s.unread = r->unread;
          s.mentions = r->mentions;
        }
        out.push_back(std::move(s));
      }
      return out;
    },
  }.unbox();
}

} // namespace

runtime::child_spec reader_spec(node_context_ptr ctx, bool detached) {
  runtime::child_spec cs;
  cs.id = "reader";
  cs.kind = "reader";
  cs.registered = true;
  cs.start = [ctx, detached](runtime::child_context& c) {
    return detached ? c.self->spawn<caf::detached>(reader, ctx) : c.self->spawn(reader, ctx);
  };
  return cs;
}

} // namespace sb::actors
