// channel_rules: who may append what to a channel, checked by the channel actor before it
// assigns a seq (nothing refused here ever reaches the log). Pinned by
// tests/unit/actors/channel_test.cpp ("authorization matrix of appends", "a DM has fixed members").
#include "actors/channel_state.hpp"

#include <algorithm>

#include "accounts/accounts.hpp"
#include "accounts/workspaces.hpp"
#include "actors/chat_error.hpp"

namespace sb::actors::channel_detail {

caf::expected<std::optional<storage::event>> find_root(channel_self* self, uint64_t seq) {
  auto& st = self->state;
  for (auto& w : st.inflight)
    if (w.ev.seq == seq)
      return std::optional<storage::event>{w.ev};
  if (seq > st.durable_seq)
    return std::optional<storage::event>{};
  auto r = st.ctx->db->get_event(st.id, seq); // point read
  if (!r)
    return make_chat_error(chat_errc::storage_failed, r.error().to_string());
  return std::move(*r);
}

caf::error check_append(channel_self* self, const storage::event& d,
                        storage::unread_hints& hints, storage::rewrite_rows& rows) {
  auto& st = self->state;
  if (d.kind == event_kind::channel_created)
    return st.exists ? make_chat_error(chat_errc::bad_request, "channel already exists")
                     : caf::none;
  if (!st.exists)
    return make_chat_error(chat_errc::not_found, "no such channel");
  bool member = st.members.count(d.author) != 0;
  auto in_workspace = [&](uint64_t user) {
    if (st.workspace == accounts::default_workspace || !st.ctx->workspaces)
      return true;
    auto r = st.ctx->workspaces->is_member(st.workspace, user); // point read
    return r && *r;
  };
  if (st.archived && d.kind != event_kind::channel_updated
      && d.kind != event_kind::member_leave)
    return make_chat_error(chat_errc::archived, "the channel is archived");
  switch (d.kind) {
    case event_kind::member_join: {
      // Authorization first, so a non-member learns nothing about the member list.
      auto who = d.member_user();
      if (st.kind == "dm") {
        auto fixed = [&](uint64_t u) {
          return std::find(st.fixed_members.begin(), st.fixed_members.end(), u)
                 != st.fixed_members.end();
        };
        bool allowed = st.fixed_members.empty()
                         ? st.members.size() < 2 && (member || d.author == st.creator)
                         : fixed(who) && fixed(d.author);
        if (!allowed)
          return make_chat_error(chat_errc::forbidden, "a DM has fixed members");
      } else {
        bool self_join_public = st.kind == "public" && who == d.author;
        bool creator_first = st.members.empty() && who == d.author && d.author == st.creator;
        if (!self_join_public && !creator_first && !member)
          return make_chat_error(chat_errc::forbidden, "only members can add members");
        if (!in_workspace(who))
          return make_chat_error(chat_errc::forbidden, "not a member of the channel's workspace");
      }
      if (st.members.count(who) != 0)
        return make_chat_error(chat_errc::bad_request, "already a member");
      return caf::none;
    }
    case event_kind::member_leave:
      // Members leave by themselves; a user who left the channel's workspace may be
      // removed by anyone (the workspace leave does it for every channel of theirs).
      if (d.member_user() != d.author && in_workspace(d.member_user()))
        return make_chat_error(chat_errc::forbidden, "members can only remove themselves");
      if (st.members.count(d.member_user()) == 0)
        return make_chat_error(chat_errc::bad_request, "not a member");
      if (st.kind == "dm")
        return make_chat_error(chat_errc::forbidden, "a DM has fixed members");
      return caf::none;
    case event_kind::channel_updated:
      if (!member)
        return make_chat_error(chat_errc::forbidden, "not a member of this channel");
      if (st.kind == "dm" && d.attribute != storage::channel_attr_topic)
        return make_chat_error(chat_errc::bad_request, "a DM has only a topic to change");
      if (st.archived && d.attribute != storage::channel_attr_archived)
        return make_chat_error(chat_errc::archived, "the channel is archived");
      if (d.attribute == storage::channel_attr_name && !accounts::channel_name_ok(d.text))
        return make_chat_error(chat_errc::bad_name, channel_name_rule);
      if (d.attribute == storage::channel_attr_archived && (d.text == "1") == st.archived)
        return make_chat_error(chat_errc::bad_request,
                               st.archived ? "already archived" : "not archived");
      {
        storage::event probe = d;
        probe.seq = 1;
        if (auto v = storage::validate(probe); !v.ok())
          return make_chat_error(chat_errc::bad_request, v.message());
      }
      return caf::none;
    default:
      break;
  }
  if (!member)
    return make_chat_error(chat_errc::forbidden, "not a member of this channel");
  if (d.kind == event_kind::message && d.thread_root != 0) {
    // A reply's root must be a top-level message; its author follows the thread.
    auto root = find_root(self, d.thread_root);
    if (!root)
      return root.error();
    if (!*root || (*root)->kind != event_kind::message || (*root)->thread_root != 0)
      return make_chat_error(chat_errc::not_found, "no such thread root");
    hints.root_author = (*root)->author;
  }
  if (d.kind != event_kind::message) {
    // Edits, deletes, reactions and pins act on an earlier message of this channel.
    if (d.target_seq == 0 || d.target_seq > st.durable_seq)
      return make_chat_error(chat_errc::not_found, "no such message");
    // The target as the edits and removals in flight leave it, else as stored.
    auto changing = st.inflight_rewrites.find(d.target_seq);
    std::optional<storage::event> target;
    if (changing != st.inflight_rewrites.end()) {
      target = changing->second.rows.target;
    } else {
      auto stored = st.ctx->db->get_event(st.id, d.target_seq); // point read
      if (!stored)
        return make_chat_error(chat_errc::storage_failed, stored.error().to_string());
      target = std::move(*stored);
    }
    if (!target || target->kind != event_kind::message)
      return make_chat_error(chat_errc::not_found, "no such message");
    // A deleted message takes no edit, reaction, pin or second delete (unpin still works).
    if (target->deleted() && d.kind != event_kind::unpin)
      return make_chat_error(chat_errc::deleted, "the message is deleted");
    if (storage::rewrites_rows(d.kind) && target->author != d.author)
      return make_chat_error(chat_errc::forbidden, "only the author can change a message");
    hints.target_root = target->thread_root; // a removal leaves its channel or thread count
    if (storage::rewrites_rows(d.kind)) {
      if (changing != st.inflight_rewrites.end()) {
        rows = changing->second.rows;
      } else {
        rows.target = target;
        if (target->last_edit != 0) {
          auto le = st.ctx->db->get_event(st.id, target->last_edit); // point read
          if (!le)
            return make_chat_error(chat_errc::storage_failed, le.error().to_string());
          rows.last_edit = std::move(*le);
        }
      }
    }
    if (d.kind == event_kind::reaction_add || d.kind == event_kind::reaction_remove) {
      // Reactions are a set per (message, user, emoji), so counts are exact: adding twice
      // or removing what is not there is refused. In-flight changes count too.
      bool present = false;
      auto key = reaction_key(d);
      if (auto i = st.inflight_reactions.find(key); i != st.inflight_reactions.end()) {
        present = i->second;
      } else {
        auto has = st.ctx->db->has_reaction(st.id, d.target_seq, d.author, d.emoji);
        if (!has)
          return make_chat_error(chat_errc::storage_failed, has.error().to_string());
        present = *has;
      }
      if (d.kind == event_kind::reaction_add && present)
        return make_chat_error(chat_errc::bad_request, "already reacted with this emoji");
      if (d.kind == event_kind::reaction_remove && !present)
        return make_chat_error(chat_errc::bad_request, "no such reaction");
    }
  }
  return caf::none;
}

} // namespace sb::actors::channel_detail
