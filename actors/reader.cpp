// storage_reader: blocking reads on a detached actor (see reader.hpp). Stateless apart
// from the node context, so a restart after a crash loses nothing.
#include "actors/reader.hpp"

#include <caf/event_based_actor.hpp>

#include "actors/chat_messages.hpp"
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

caf::behavior reader(runtime::supervised_actor*, node_context_ptr ctx) {
  return {
    [ctx](replay_atom, uint64_t channel, uint64_t after, uint64_t upto,
          uint32_t limit) -> caf::result<event_page> {
      event_page page;
      page.channel = channel;
      if (upto <= after)
        return page;
      auto want = std::min<uint64_t>(limit == 0 ? 1 : limit, upto - after);
      auto evs = ctx->db->read_range(channel, storage::direction::forward, after, want);
      if (!evs)
        return storage_error(evs.error());
      for (auto& e : *evs) {
        if (e.seq > upto)
          break;
        page.seqs.push_back(e.seq);
        page.frames.push_back(std::make_shared<const std::string>(protocol::encode_event(e)));
      }
      page.has_more = !page.seqs.empty() && page.seqs.back() < upto
                      && page.seqs.size() == want;
      return page;
    },
    [ctx](history_atom, uint64_t channel, int32_t dir, uint64_t anchor,
          uint32_t limit) -> caf::result<history_page> {
      history_page page;
      page.channel = channel;
      auto d = dir == 0 ? storage::direction::backward : storage::direction::forward;
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
    [ctx](load_atom, uint64_t channel) -> caf::result<channel_load> {
      channel_load out;
      auto info = ctx->db->channel_info(channel);
      if (!info)
        return storage_error(info.error());
      if (!*info)
        return out;
      out.exists = true;
      out.name = (*info)->text;
      out.kind = (*info)->emoji;
      out.creator = (*info)->author;
      auto last = ctx->db->last_seq(channel);
      if (!last)
        return storage_error(last.error());
      out.last_seq = *last;
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
    [ctx](ready_atom, uint64_t user, uint32_t max) -> caf::result<std::vector<channel_summary>> {
      std::vector<channel_summary> out;
      auto chans = ctx->db->channels_of(user, 0, max);
      if (!chans)
        return storage_error(chans.error());
      for (auto ch : *chans) {
        channel_summary s;
        s.id = ch;
        if (auto info = ctx->db->channel_info(ch); info && *info) {
          s.name = (*info)->text;
          s.kind = (*info)->emoji;
        }
        if (auto last = ctx->db->last_seq(ch); last)
          s.head = *last;
        out.push_back(std::move(s));
      }
      return out;
    },
  };
}

} // namespace

runtime::child_spec reader_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "reader";
  cs.kind = "reader";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(reader, ctx);
  };
  return cs;
}

} // namespace sb::actors
