// account_home: a node's answers for the users it is home of (contract in the header).
#include "actors/account_home.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>

#include <caf/stateful_actor.hpp>

#include "accounts/accounts.hpp"
#include "actors/blocking_worker.hpp"
#include "actors/chat_error.hpp"
#include "actors/hash_pool.hpp"
#include "actors/interfaces.hpp"
#include "actors/names.hpp"
#include "actors/peer_request.hpp"

namespace sb::actors {

channel_route route_home(const node_context& ctx, std::optional<uint32_t> home) {
  if (!home)
    return {};
  return route_partition(ctx, *home, "user");
}

user_card card_of_user(const accounts::user& u) {
  return {u.id, u.name, u.display_name};
}

accounts::user user_of_card(const user_card& c) {
  accounts::user u;
  u.id = c.id;
  u.name = c.name;
  u.display_name = c.display_name;
  return u;
}

void resolve_users(caf::event_based_actor* self, const node_context_ptr& ctx,
                   std::vector<uint64_t> ids, std::function<void(std::vector<user_card>)> ok,
                   std::function<void(caf::error)> fail) {
  // Group by home node; this node's users are point reads here.
  struct gathering {
    std::unordered_map<uint64_t, user_card> found;
    size_t waiting = 1;
    caf::error err;
  };
  auto g = std::make_shared<gathering>();
  auto order = std::make_shared<std::vector<uint64_t>>(ids);
  auto finish = [g, order, ok, fail] {
    if (--g->waiting > 0)
      return;
    if (g->err)
      return fail(g->err);
    std::vector<user_card> out;
    for (auto id : *order)
      if (auto i = g->found.find(id); i != g->found.end())
        out.push_back(i->second);
    ok(std::move(out));
  };
  std::map<uint32_t, std::vector<uint64_t>> remote;
  for (auto id : ids) {
    auto r = route_home(*ctx, accounts::home_of_user(id));
    if (r.at == channel_route::where::unavailable) {
      g->err = r.error;
      break;
    }
    if (r.at == channel_route::where::remote) {
      remote[r.owner].push_back(id);
      continue;
    }
    auto u = ctx->accounts->get(id);
    if (u)
      g->found.emplace(id, card_of_user(*u));
    else if (u.code() != accounts::errc::not_found)
      g->err = account_error(u.error());
  }
  if (!g->err)
    for (auto& [node, some] : remote)
      for (size_t at = 0; at < some.size(); at += max_cards_per_request) {
        std::vector<uint64_t> part(some.begin() + at,
                                   some.begin() + std::min(some.size(), at + max_cards_per_request));
        ++g->waiting;
        ask_peer<std::vector<user_card>>(
          self, ctx, node, std::chrono::seconds(5),
          [g, finish](std::vector<user_card>& cards) {
            for (auto& c : cards)
              g->found.emplace(c.id, std::move(c));
            finish();
          },
          [g, finish](caf::error err) {
            if (!g->err)
              g->err = std::move(err);
            finish();
          },
          user_get_atom::value, std::move(part));
      }
  finish();
}

void check_users_exist(caf::event_based_actor* self, const node_context_ptr& ctx,
                       std::vector<uint64_t> ids, std::function<void()> ok,
                       std::function<void(caf::error)> fail) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  auto wanted = ids.size();
  resolve_users(
    self, ctx, std::move(ids),
    [wanted, ok, fail](std::vector<user_card> cards) {
      if (cards.size() != wanted)
        return fail(make_chat_error(chat_errc::not_found, "no such user"));
      ok();
    },
    fail);
}

namespace {

/// none when this node is `home`'s home (or cannot tell: a malformed key is answered here).
caf::error unless_home(const node_context& ctx, std::optional<uint32_t> home) {
  auto r = route_home(ctx, home);
  if (r.at == channel_route::where::local)
    return caf::none;
  if (r.at == channel_route::where::unavailable)
    return r.error;
  return make_chat_error(chat_errc::unavailable, "the user's home is node "
                                                   + std::to_string(r.owner)
                                                   + "; retry in a few seconds");
}

std::vector<session_card> cards_of_sessions(const std::vector<accounts::session_info>& s) {
  std::vector<session_card> out;
  out.reserve(s.size());
  for (auto& i : s)
    out.push_back({i.id, i.created_ms, i.expires_ms});
  return out;
}

/// Revokes at this node (the home) and closes the revoked sessions' connections through the
/// user's hub, which runs here when any of their devices is connected.
accounts::result<std::vector<uint64_t>> revoke_here(const node_context& ctx, uint64_t user,
                                                   const std::string& only,
                                                   const std::string& keep) {
  auto keys = ctx.accounts->revoke_sessions(user, only, keep);
  if (keys && !keys->empty())
    if (auto hub = find_actor<user_actor>(ctx, user_name(user)))
      for (auto key : *keys)
        caf::anon_send(hub, revoked_atom::value, key);
  return keys;
}

/// revoke_here on the blocking worker (the revocation is a synced write), then `ok(keys)`
/// or `fail` in `self`. Only a revocation that ends a session goes there, so the jobs one
/// user queues are bounded by the sessions they made (each a log-in, budgeted and hashed).
void revoke_blocking(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
                     std::string only, std::string keep,
                     std::function<void(std::vector<uint64_t>)> ok,
                     std::function<void(caf::error)> fail) {
  auto live = ctx->accounts->sessions_of(user); // a prefix read, here
  if (!live)
    return fail(account_error(live.error()));
  bool any = std::any_of(live->begin(), live->end(), [&](const accounts::session_info& s) {
    return (only.empty() || s.id == only) && s.id != keep;
  });
  if (!any && !only.empty())
    return fail(account_error(accounts::error{accounts::errc::not_found, "no such session"}));
  if (!any)
    return ok({});
  using outcome = std::optional<accounts::result<std::vector<uint64_t>>>;
  auto out = std::make_shared<outcome>();
  run_blocking(
    self, ctx, [ctx, user, only, keep, out] { out->emplace(revoke_here(*ctx, user, only, keep)); },
    [out, ok, fail] {
      auto& r = **out;
      if (!r)
        return fail(account_error(r.error()));
      ok(std::move(*r));
    },
    fail);
}

caf::result<user_card> card_or_error(const accounts::result<accounts::user>& u) {
  if (!u)
    return account_error(u.error());
  return card_of_user(*u);
}

/// Forwards a sign-up or log-in to this node's hash pool (hash_pool.hpp).
caf::result<std::string> to_pool(caf::event_based_actor* self, const node_context& ctx,
                                 hash_job job) {
  auto pool = find_actor<hash_pool_actor>(ctx, hash_pool_name());
  if (!pool)
    return make_chat_error(chat_errc::unavailable, "the hash pool is restarting; retry");
  auto rp = self->make_response_promise<std::string>();
  self->request(pool, account_timeout - std::chrono::seconds(2), run_atom::value, std::move(job))
    .then([rp](std::string& out) mutable { rp.deliver(std::move(out)); },
          [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
  return rp;
}

} // namespace

void list_sessions(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
                   std::function<void(std::vector<session_card>)> ok,
                   std::function<void(caf::error)> fail) {
  auto route = route_home(*ctx, accounts::home_of_user(user));
  if (route.at == channel_route::where::unavailable)
    return fail(route.error);
  if (route.at == channel_route::where::local) {
    auto out = ctx->accounts->sessions_of(user);
    if (!out)
      return fail(account_error(out.error()));
    return ok(cards_of_sessions(*out));
  }
  ask_peer<std::vector<session_card>>(
    self, ctx, route.owner, std::chrono::seconds(5),
    [ok](std::vector<session_card>& out) { ok(std::move(out)); }, std::move(fail),
    sessions_atom::value, user);
}

void revoke_sessions(caf::event_based_actor* self, const node_context_ptr& ctx, uint64_t user,
                     std::string only, std::string keep, std::function<void(size_t)> ok,
                     std::function<void(caf::error)> fail) {
  auto route = route_home(*ctx, accounts::home_of_user(user));
  if (route.at == channel_route::where::unavailable)
    return fail(route.error);
  if (route.at == channel_route::where::local)
    return revoke_blocking(
      self, ctx, user, std::move(only), std::move(keep),
      [ok](std::vector<uint64_t> keys) { ok(keys.size()); }, std::move(fail));
  ask_peer<std::vector<uint64_t>>(
    self, ctx, route.owner, std::chrono::seconds(5),
    [ok](std::vector<uint64_t>& keys) { ok(keys.size()); }, std::move(fail),
    revoke_sessions_atom::value, user, std::move(only), std::move(keep));
}

caf::behavior account_home_handlers(caf::event_based_actor* self, node_context_ptr ctx) {
  return account_home_actor::behavior_type{
    [self, ctx](signup_atom, std::string& name, std::string& password,
                std::string& display) -> caf::result<std::string> {
      if (auto err = unless_home(*ctx, accounts::home_of_name(name)))
        return err;
      return to_pool(self, *ctx, hash_job{true, std::move(name), std::move(password),
                                          std::move(display), nullptr, 0});
    },
    [self, ctx](login_atom, std::string& name,
                std::string& password) -> caf::result<std::string> {
      if (auto err = unless_home(*ctx, accounts::home_of_name(name)))
        return err;
      // The account's backoff before the queue: a locked account costs no queue slot.
      if (auto wait = ctx->accounts->login_wait_ms(name); wait && *wait > 0)
        return account_error(accounts::error{accounts::errc::rate_limited,
                                             "too many failed log-ins for this account",
                                             *wait});
      if (password.size() > accounts::max_login_password_bytes)
        return account_error(accounts::error{accounts::errc::bad_password,
                                             "password too long"});
      return to_pool(self, *ctx, hash_job{false, std::move(name), std::move(password), {},
                                          nullptr, 0});
    },
    [ctx](authenticate_atom, const std::string& token) -> caf::result<user_card> {
      if (auto err = unless_home(*ctx, accounts::home_of_token(token)))
        return err;
      return card_or_error(ctx->accounts->authenticate(token));
    },
    [self, ctx](logout_atom, const std::string& token) -> caf::result<bool> {
      if (auto err = unless_home(*ctx, accounts::home_of_token(token)))
        return err;
      // The delete is a synced write: on the blocking worker, not this router's thread.
      auto rp = self->make_response_promise<bool>();
      auto out = std::make_shared<std::optional<accounts::result<bool>>>();
      run_blocking(
        self, ctx, [ctx, token, out] { out->emplace(ctx->accounts->log_out(token)); },
        [rp, out]() mutable {
          auto& r = **out;
          if (r)
            rp.deliver(*r);
          else
            rp.deliver(account_error(r.error()));
        },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [ctx](sessions_atom, uint64_t user) -> caf::result<std::vector<session_card>> {
      if (auto err = unless_home(*ctx, accounts::home_of_user(user)))
        return err;
      auto out = ctx->accounts->sessions_of(user);
      if (!out)
        return account_error(out.error());
      return cards_of_sessions(*out);
    },
    [self, ctx](revoke_sessions_atom, uint64_t user, std::string& only,
                std::string& keep) -> caf::result<std::vector<uint64_t>> {
      if (auto err = unless_home(*ctx, accounts::home_of_user(user)))
        return err;
      auto rp = self->make_response_promise<std::vector<uint64_t>>();
      revoke_blocking(
        self, ctx, user, std::move(only), std::move(keep),
        [rp](std::vector<uint64_t> keys) mutable { rp.deliver(std::move(keys)); },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [ctx](user_get_atom, const std::vector<uint64_t>& ids) -> caf::result<std::vector<user_card>> {
      if (ids.size() > max_cards_per_request)
        return make_chat_error(chat_errc::bad_value, "too many users in one request");
      std::vector<user_card> out;
      for (auto id : ids) {
        if (auto err = unless_home(*ctx, accounts::home_of_user(id)))
          return err;
        if (auto u = ctx->accounts->get(id))
          out.push_back(card_of_user(*u));
        else if (u.code() != accounts::errc::not_found)
          return account_error(u.error());
      }
      return out;
    },
    [ctx](user_find_atom, const std::string& name) -> caf::result<user_card> {
      if (auto err = unless_home(*ctx, accounts::home_of_name(name)))
        return err;
      return card_or_error(ctx->accounts->find(name));
    },
    [self, ctx](user_hub_atom, uint64_t user) -> caf::result<caf::actor> {
      if (auto err = unless_home(*ctx, accounts::home_of_user(user)))
        return err;
      auto rp = self->make_response_promise<caf::actor>();
      with_dynamic(
        self, ctx, "users", "user", std::to_string(user),
        [rp](caf::actor u) mutable { rp.deliver(std::move(u)); },
        [rp](caf::error err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
    [self, ctx](joined_atom, uint64_t user, uint64_t channel, uint64_t seq) {
      if (auto u = find_actor<user_actor>(*ctx, user_name(user)))
        self->send(u, joined_atom::value, channel, seq);
    },
    [self, ctx](left_atom, uint64_t user, uint64_t channel) {
      if (auto u = find_actor<user_actor>(*ctx, user_name(user)))
        self->send(u, left_atom::value, channel);
    },
    [self, ctx](read_state_atom, uint64_t user, frame& f, caf::actor& origin) {
      if (auto u = find_actor<user_actor>(*ctx, user_name(user)))
        self->send(u, read_state_atom::value, std::move(f), std::move(origin));
    },
    [self, ctx](presence_delta_atom, uint32_t node, int64_t incarnation, uint64_t seq,
                std::vector<presence_record>& changes) {
      if (auto d = find_actor<presence_actor>(*ctx, presence_name()))
        self->send(d, presence_delta_atom::value, node, incarnation, seq, std::move(changes));
    },
    [self, ctx](presence_sync_atom, uint64_t after,
                uint32_t limit) -> caf::result<std::vector<presence_record>, uint64_t, bool> {
      auto d = find_actor<presence_actor>(*ctx, presence_name());
      if (!d)
        return make_chat_error(chat_errc::unavailable, "the presence directory is restarting");
      auto rp = self->make_response_promise<std::vector<presence_record>, uint64_t, bool>();
      self->request(d, std::chrono::seconds(4), presence_sync_atom::value, after, limit)
        .then([rp](std::vector<presence_record>& page, uint64_t seq,
                   bool more) mutable { rp.deliver(std::move(page), seq, more); },
              [rp](caf::error& err) mutable { rp.deliver(std::move(err)); });
      return rp;
    },
  }.unbox();
}

} // namespace sb::actors
