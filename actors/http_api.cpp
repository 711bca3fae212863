// http_api: routes and handlers of the HTTP API (see http_api.hpp, docs/protocol.md).
#include "actors/http_api.hpp"

#include <charconv>
#include <optional>

#include <simdjson.h>
#include <sodium.h>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/make_message.hpp>

#include "accounts/accounts.hpp"
#include "actors/channel.hpp"
#include "actors/channel_directory.hpp"
#include "actors/chat_messages.hpp"
#include "protocol/encode.hpp"
#include "protocol/json_writer.hpp"
#include "protocol/utf8.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/errors.hpp"
#include "runtime/messages.hpp"
#include "runtime/registry.hpp"
#include "storage/ids.hpp"
#include "storage/keys.hpp"
#include "storage/store.hpp"
#include "transport/server.hpp"

namespace sb::actors {

namespace {

using namespace std::chrono_literals;
using transport::http_request;
using transport::http_response;
using responder = std::function<void(http_response)>;

using signup_atom = caf::atom_constant<caf::atom("signup")>;
using login_atom = caf::atom_constant<caf::atom("login")>;
using logout_atom = caf::atom_constant<caf::atom("logout")>;

constexpr size_t max_message_chars = 4000;

// -- responses -----------------------------------------------------------------------

http_response json(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response error(unsigned status, std::string_view code, std::string_view message) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().field("code", code).field("message", message).end_object();
  return json(status, std::move(out));
}

unsigned status_of(std::string_view code) {
  if (code == "forbidden")
    return 403;
  if (code == "not_found")
    return 404;
  if (code == "rate_limited")
    return 429;
  if (code == "overloaded" || code == "unavailable" || code == "timeout")
    return 503;
  if (code == "storage_failed" || code == "internal")
    return 500;
  return 400;
}

/// Accounts errors cross from the auth worker as caf::errors of category "sb_acct".
caf::error account_error(const accounts::error& e) {
  return caf::error{static_cast<uint8_t>(e.code), caf::atom("sb_acct"),
                    caf::make_message(e.message)};
}

http_response error(const accounts::error& err);

http_response error(const caf::error& err) {
  if (err.category() == caf::atom("sb_acct")) {
    accounts::error e{static_cast<accounts::errc>(err.code()), ""};
    if (err.context().match_elements<std::string>())
      e.message = err.context().get_as<std::string>(0);
    return error(e);
  }
  auto [code, message] = describe(err);
  return error(status_of(code), code, message);
}

http_response error(const accounts::error& err) {
  auto code = accounts::to_string(err.code);
  unsigned status = 400;
  switch (err.code) {
    case accounts::errc::invalid_credentials:
    case accounts::errc::invalid_token: status = 401; break;
    case accounts::errc::name_taken: status = 409; break;
    case accounts::errc::not_found: status = 404; break;
    case accounts::errc::storage: status = 500; break;
    default: break;
  }
  return error(status, code, err.message);
}

void write_user(protocol::json_writer& w, const accounts::user& u) {
  w.begin_object().id_field("id", u.id).field("name", u.name)
    .field("display_name", u.display_name).end_object();
}

void write_channel(protocol::json_writer& w, uint64_t id, std::string_view name,
                   std::string_view kind, uint64_t head) {
  w.begin_object().id_field("id", id).field("name", name).field("kind", kind)
    .field("head", head).end_object();
}

// -- request parsing -----------------------------------------------------------------

/// The body's fields we understand; absent fields stay empty. Nullopt: not a JSON object.
struct body_fields {
  std::optional<std::string> name, password, display_name, kind, text, nonce, user;
  std::optional<uint64_t> thread_root;
  std::string bad; // names a field with the wrong type
};

std::optional<body_fields> parse_body(const std::string& body) {
  body_fields out;
  if (body.empty())
    return out;
  thread_local simdjson::ondemand::parser parser;
  simdjson::padded_string padded{body};
  simdjson::ondemand::document doc;
  if (parser.iterate(padded).get(doc))
    return std::nullopt;
  simdjson::ondemand::object obj;
  if (doc.get_object().get(obj))
    return std::nullopt;
  for (auto field_result : obj) {
    simdjson::ondemand::field field;
    if (std::move(field_result).get(field))
      return std::nullopt;
    std::string_view key;
    if (field.unescaped_key().get(key))
      return std::nullopt;
    auto value = field.value();
    auto take_string = [&](std::optional<std::string>& dst) {
      std::string_view s;
      if (value.get_string().get(s))
        out.bad = std::string{key};
      else
        dst = std::string{s};
    };
    if (key == "name") take_string(out.name);
    else if (key == "password") take_string(out.password);
    else if (key == "display_name") take_string(out.display_name);
    else if (key == "kind") take_string(out.kind);
    else if (key == "text") take_string(out.text);
    else if (key == "nonce") take_string(out.nonce);
    else if (key == "user") take_string(out.user);
    else if (key == "thread_root") {
      uint64_t v = 0;
      if (value.get_uint64().get(v))
        out.bad = "thread_root";
      else
        out.thread_root = v;
    }
    // Unknown fields are ignored: iterating to the next field skips them.
    if (!out.bad.empty())
      return out;
  }
  const char* rest = nullptr;
  if (doc.current_location().get(rest) == simdjson::SUCCESS)
    return std::nullopt; // trailing data after the object
  return out;
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20)
    return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size())
    return std::nullopt;
  return v;
}

/// Path split at '/', query parsed into pairs.
struct route {
  std::vector<std::string_view> parts;
  std::vector<std::pair<std::string_view, std::string_view>> query;
  std::optional<std::string_view> param(std::string_view k) const {
    for (auto& [a, b] : query)
      if (a == k)
        return b;
    return std::nullopt;
  }
};

route split(std::string_view target) {
  route r;
  auto q = target.find('?');
  auto path = target.substr(0, q);
  if (q != std::string_view::npos) {
    auto qs = target.substr(q + 1);
    while (!qs.empty()) {
      auto amp = qs.find('&');
      auto kv = qs.substr(0, amp);
      auto eq = kv.find('=');
      r.query.emplace_back(kv.substr(0, eq),
                           eq == std::string_view::npos ? std::string_view{} : kv.substr(eq + 1));
      if (amp == std::string_view::npos)
        break;
      qs = qs.substr(amp + 1);
    }
  }
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    r.parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos)
      break;
    path = path.substr(slash);
  }
  return r;
}

/// Decodes %XX escapes of a path segment (emoji in reaction URLs); nullopt if malformed.
std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size())
      return std::nullopt;
    int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0)
      return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string bearer(const std::string& authorization) {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() > prefix.size() && authorization.compare(0, prefix.size(), prefix) == 0)
    return authorization.substr(prefix.size());
  return {};
}

// -- the request actor ---------------------------------------------------------------

struct request_state {
  node_context_ptr ctx;
  responder respond;
  bool answered = false;
  static inline const char* name = "http_request";
};

using request_actor = caf::stateful_actor<request_state>;

void answer(request_actor* self, http_response r) {
  auto& st = self->state;
  if (!st.answered) {
    st.answered = true;
    st.respond(std::move(r));
  }
  self->quit();
}

/// Appends `draft` to `channel` and continues with the committed event.
void append(request_actor* self, uint64_t channel, storage::event draft,
            std::function<void(storage::event&)> ok,
            std::function<void(const caf::error&)> fail = nullptr) {
  if (!fail)
    fail = [self](const caf::error& err) { answer(self, error(err)); };
  with_channel(
    self, self->state.ctx, channel,
    [self, draft, ok, fail](caf::actor ch) {
      self->request(ch, 30s, append_atom::value, draft)
        .then([ok](storage::event& ev) { ok(ev); }, [fail](caf::error& err) { fail(err); });
    },
    [fail](caf::error err) { fail(err); });
}

std::string committed_json(const storage::event& ev) {
  std::string out;
  protocol::json_writer w{out};
  w.begin_object().id_field("channel", ev.channel_id).field("seq", ev.seq)
    .id_field("id", ev.id).field("time", ev.time_ms).end_object();
  return out;
}

/// Creates a channel: channel_created then the creator's member_join.
void create_channel(request_actor* self, const accounts::user& who, std::string name,
                    std::string kind, std::function<void(uint64_t)> done) {
  auto id = self->state.ctx->ids->next();
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = who.id;
  created.text = name;
  created.emoji = kind;
  append(self, id, created, [self, id, who, done](storage::event&) {
    storage::event join;
    join.kind = storage::event_kind::member_join;
    join.author = who.id;
    append(self, id, join, [id, done](storage::event&) { done(id); });
  });
}

void list_channels(request_actor* self, const accounts::user& who) {
  auto reader = storage_reader(self->state.ctx);
  if (!reader)
    return answer(self, error(503, "unavailable", "storage reader restarting"));
  self->request(reader, 30s, ready_atom::value, who.id,
                self->state.ctx->limits.max_channels_per_user)
    .then(
      [self](std::vector<channel_summary>& chans) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("channels").begin_array();
        for (auto& c : chans)
          write_channel(w, c.id, c.name, c.kind, c.head);
        w.end_array().end_object();
        answer(self, json(200, std::move(out)));
      },
      [self](caf::error& err) { answer(self, error(err)); });
}

void history(request_actor* self, const accounts::user& who, uint64_t channel,
             const route& r) {
  int32_t dir = 0;
  uint64_t anchor = storage::latest_seq;
  uint32_t limit = 50;
  if (auto l = r.param("limit")) {
    auto v = parse_u64(*l);
    if (!v || *v == 0)
      return answer(self, error(400, "bad_value", "limit must be a positive integer"));
    limit = static_cast<uint32_t>(std::min<uint64_t>(*v, 200));
  }
  if (auto b = r.param("before")) {
    auto v = parse_u64(*b);
    if (!v)
      return answer(self, error(400, "bad_value", "before must be a seq"));
    anchor = *v;
  } else if (auto a = r.param("after")) {
    auto v = parse_u64(*a);
    if (!v)
      return answer(self, error(400, "bad_value", "after must be a seq"));
    dir = 1;
    anchor = *v;
  }
  with_channel(
    self, self->state.ctx, channel,
    [self, who, channel, dir, anchor, limit](caf::actor ch) {
      self->request(ch, 10s, member_check_atom::value, who.id)
        .then(
          [self, channel, dir, anchor, limit](bool member) {
            if (!member)
              return answer(self, error(403, "forbidden", "not a member of this channel"));
            auto reader = storage_reader(self->state.ctx);
            if (!reader)
              return answer(self, error(503, "unavailable", "storage reader restarting"));
            self->request(reader, 30s, history_atom::value, channel, dir, anchor, limit)
              .then(
                [self, channel, dir](history_page& p) {
                  if (dir == 0)
                    std::reverse(p.events.begin(), p.events.end());
                  answer(self, json(200, protocol::encode_history("", channel, p.events,
                                                                  p.has_more)));
                },
                [self](caf::error& err) { answer(self, error(err)); });
          },
          [self](caf::error& err) { answer(self, error(err)); });
    },
    [self](caf::error err) { answer(self, error(err)); });
}

void send_message(request_actor* self, const accounts::user& who, uint64_t channel,
                  body_fields& b) {
  if (!b.text)
    return answer(self, error(400, "missing_field", "text is required"));
  auto chars = protocol::utf8_length(*b.text);
  if (!chars)
    return answer(self, error(400, "bad_utf8", "text is not valid UTF-8"));
  if (*chars == 0)
    return answer(self, error(400, "empty_text", "text must not be empty"));
  if (*chars > max_message_chars)
    return answer(self, error(400, "text_too_long", "text is longer than 4000 characters"));
  if (b.nonce && b.nonce->size() > storage::max_nonce_bytes)
    return answer(self, error(400, "nonce_too_long", "nonce is longer than 64 bytes"));
  storage::event d;
  d.kind = storage::event_kind::message;
  d.author = who.id;
  d.text = std::move(*b.text);
  d.nonce = b.nonce.value_or("");
  d.thread_root = b.thread_root.value_or(0);
  append(self, channel, std::move(d),
         [self](storage::event& ev) { answer(self, json(201, committed_json(ev))); });
}

void open_dm(request_actor* self, const accounts::user& who, uint64_t other) {
  auto& ctx = self->state.ctx;
  if (other == who.id)
    return answer(self, error(400, "bad_value", "a DM needs another user"));
  if (!ctx->accounts->get(other))
    return answer(self, error(404, "not_found", "no such user"));
  auto a = std::min(who.id, other), b = std::max(who.id, other);
  auto key = "d:" + storage::keys::pair_key(a, b);
  auto fresh = ctx->ids->next();
  auto put = ctx->db->auth_put_if_absent(key, storage::keys::id_key(fresh));
  if (!put)
    return answer(self, error(500, "storage_failed", "could not store the DM"));
  uint64_t id = fresh;
  if (!*put) {
    auto existing = ctx->db->auth_get(key);
    if (!existing || !*existing || (*existing)->size() != 8)
      return answer(self, error(500, "storage_failed", "could not read the DM"));
    id = storage::keys::get_be64((*existing)->data());
  }
  // Idempotent creation: steps already done answer bad_request and are skipped, so a DM
  // whose creation was interrupted is completed by the next open.
  auto skip_done = [](std::function<void()> next) {
    return [next](const caf::error&) { next(); };
  };
  auto finish = [self, id, who, other] {
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("channel");
    write_channel(w, id, "", "dm", 0);
    w.end_object();
    (void) who;
    (void) other;
    answer(self, json(200, std::move(out)));
  };
  auto join_other = [self, id, who, other, finish, skip_done] {
    storage::event j;
    j.kind = storage::event_kind::member_join;
    j.author = who.id;
    j.subject_user = other;
    append(self, id, j, [finish](storage::event&) { finish(); }, skip_done(finish));
  };
  auto join_self = [self, id, who, join_other, skip_done] {
    storage::event j;
    j.kind = storage::event_kind::member_join;
    j.author = who.id;
    append(self, id, j, [join_other](storage::event&) { join_other(); }, skip_done(join_other));
  };
  storage::event created;
  created.kind = storage::event_kind::channel_created;
  created.author = who.id;
  created.emoji = "dm";
  append(self, id, created, [join_self](storage::event&) { join_self(); },
         skip_done(join_self));
}

/// Routes that need a logged-in user.
void route_authenticated(request_actor* self, const accounts::user& who, http_request& req,
                         route& r, body_fields& b) {
  auto& m = req.method;
  auto& p = r.parts;
  if (p.size() == 2 && p[1] == "me" && m == "GET") {
    std::string out;
    protocol::json_writer w{out};
    w.begin_object().key("user");
    write_user(w, who);
    w.end_object();
    return answer(self, json(200, std::move(out)));
  }
  if (p.size() == 2 && p[1] == "channels") {
    if (m == "GET")
      return list_channels(self, who);
    if (m == "POST") {
      auto kind = b.kind.value_or("public");
      if (kind != "public" && kind != "private")
        return answer(self, error(400, "bad_value", "kind must be public or private"));
      if (!b.name || b.name->empty() || b.name->size() > 80)
        return answer(self, error(400, "bad_value", "name must be 1..80 bytes"));
      if (!protocol::utf8_length(*b.name))
        return answer(self, error(400, "bad_utf8", "name is not valid UTF-8"));
      auto name = *b.name;
      return create_channel(self, who, name, kind, [self, name, kind](uint64_t id) {
        std::string out;
        protocol::json_writer w{out};
        w.begin_object().key("channel");
        write_channel(w, id, name, kind, 2);
        w.end_object();
        answer(self, json(201, std::move(out)));
      });
    }
    return answer(self, error(405, "method_not_allowed", "use GET or POST"));
  }
  if (p.size() == 2 && p[1] == "dms" && m == "POST") {
    auto other = b.user ? parse_u64(*b.user) : std::nullopt;
    if (!other)
      return answer(self, error(400, "bad_value", "user must be a user id string"));
    return open_dm(self, who, *other);
  }
  if (p.size() >= 3 && p[1] == "channels") {
    auto channel = parse_u64(p[2]);
    if (!channel)
      return answer(self, error(404, "not_found", "no such channel"));
    if (p.size() == 4 && p[3] == "messages") {
      if (m == "GET")
        return history(self, who, *channel, r);
      if (m == "POST")
        return send_message(self, who, *channel, b);
      return answer(self, error(405, "method_not_allowed", "use GET or POST"));
    }
    if ((p.size() == 5 || p.size() == 7) && (p[3] == "messages" || p[3] == "pins")) {
      auto seq = parse_u64(p[4]);
      if (!seq || *seq == 0)
        return answer(self, error(404, "not_found", "no such message"));
      storage::event d;
      d.author = who.id;
      d.target_seq = *seq;
      if (p.size() == 5 && p[3] == "messages" && (m == "PATCH" || m == "DELETE")) {
        d.kind = m == "PATCH" ? storage::event_kind::edit : storage::event_kind::remove;
        if (d.kind == storage::event_kind::edit) {
          if (!b.text)
            return answer(self, error(400, "missing_field", "text is required"));
          auto chars = protocol::utf8_length(*b.text);
          if (!chars || *chars == 0 || *chars > max_message_chars)
            return answer(self, error(400, "bad_value", "text must be 1..4000 characters of UTF-8"));
          d.text = std::move(*b.text);
        }
      } else if (p.size() == 5 && p[3] == "pins" && (m == "PUT" || m == "DELETE")) {
        d.kind = m == "PUT" ? storage::event_kind::pin : storage::event_kind::unpin;
      } else if (p.size() == 7 && p[3] == "messages" && p[5] == "reactions"
                 && (m == "PUT" || m == "DELETE")) {
        auto emoji = percent_decode(p[6]);
        if (!emoji || emoji->empty() || emoji->size() > storage::max_emoji_bytes
            || !protocol::utf8_length(*emoji))
          return answer(self, error(400, "bad_value", "emoji must be 1..64 bytes of UTF-8"));
        d.kind = m == "PUT" ? storage::event_kind::reaction_add
                            : storage::event_kind::reaction_remove;
        d.emoji = std::move(*emoji);
      } else {
        return answer(self, error(405, "method_not_allowed", "unsupported method"));
      }
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
    if (p.size() == 4 && (p[3] == "join" || p[3] == "leave") && m == "POST") {
      storage::event d;
      d.kind = p[3] == "join" ? storage::event_kind::member_join
                              : storage::event_kind::member_leave;
      d.author = who.id;
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
    if (p.size() == 4 && p[3] == "members" && m == "POST") {
      auto other = b.user ? parse_u64(*b.user) : std::nullopt;
      if (!other)
        return answer(self, error(400, "bad_value", "user must be a user id string"));
      if (!self->state.ctx->accounts->get(*other))
        return answer(self, error(404, "not_found", "no such user"));
      storage::event d;
      d.kind = storage::event_kind::member_join;
      d.author = who.id;
      d.subject_user = *other;
      return append(self, *channel, d, [self](storage::event& ev) {
        answer(self, json(200, committed_json(ev)));
      });
    }
  }
  answer(self, error(404, "not_found", "no such endpoint"));
}

/// Operator API: POST /admin/api/actors/stop {"kind":"channel","key":"<id>"} kills a
/// supervised actor as a crash would, so its supervisor restarts it (the console's "stop").
void route_admin(request_actor* self, http_request& req, route& r) {
  auto& ctx = self->state.ctx;
  auto token = bearer(req.authorization);
  if (ctx->admin_token.empty())
    return answer(self, error(404, "not_found", "the admin API is disabled (no admin-token)"));
  if (token.size() != ctx->admin_token.size()
      || sodium_memcmp(token.data(), ctx->admin_token.data(), token.size()) != 0)
    return answer(self, error(401, "unauthorized", "admin token required"));
  auto& p = r.parts;
  if (!(p.size() == 4 && p[2] == "actors" && p[3] == "stop" && req.method == "POST"))
    return answer(self, error(404, "not_found", "no such endpoint"));
  std::string kind, key;
  {
    thread_local simdjson::ondemand::parser parser;
    simdjson::padded_string padded{req.body};
    simdjson::ondemand::document doc;
    std::string_view k, v;
    if (parser.iterate(padded).get(doc) || doc["kind"].get_string().get(k)
        || doc["key"].get_string().get(v))
      return answer(self, error(400, "bad_json", "expected {\"kind\":..,\"key\":..}"));
    kind = std::string{k};
    key = std::string{v};
  }
  std::string sup_name = kind == "channel"      ? "channels"
                         : kind == "user"       ? "users"
                         : kind == "connection" ? "connections"
                                                : "";
  auto sup = sup_name.empty() ? caf::actor{} : ctx->names->get("supervisor", sup_name);
  if (!sup)
    return answer(self, error(400, "bad_value", "kind must be channel, user or connection"));
  self->request(sup, 10s, runtime::kill_child_atom::value, key)
    .then([self]() { answer(self, json(200, R"({"stopped":true})")); },
          [self](caf::error& err) {
            if (err.category() == runtime::runtime_error_category())
              return answer(self, error(404, "unknown_actor", "no such running actor"));
            answer(self, error(err));
          });
}

caf::behavior request_impl(request_actor* self, node_context_ptr ctx, http_request req,
                           responder respond) {
  self->state.ctx = ctx;
  self->state.respond = std::move(respond);
  auto r = split(req.target);
  if (r.parts.size() >= 2 && r.parts[0] == "admin" && r.parts[1] == "api") {
    route_admin(self, req, r);
    if (self->state.answered)
      return {};
    return {[](idle_atom, uint64_t) {}};
  }
  if (r.parts.empty() || r.parts[0] != "api") {
    answer(self, error(404, "not_found", "no such endpoint"));
    return {};
  }
  auto body = parse_body(req.body);
  if (!body) {
    answer(self, error(400, "bad_json", "the body is not a JSON object"));
    return {};
  }
  if (!body->bad.empty()) {
    answer(self, error(400, "wrong_type", "field '" + body->bad + "' has the wrong type"));
    return {};
  }
  auto auth = ctx->names->get("auth", "auth");
  auto& p = r.parts;
  if (p.size() == 2 && (p[1] == "signup" || p[1] == "login") && req.method == "POST") {
    if (!auth) {
      answer(self, error(503, "unavailable", "auth worker restarting"));
      return {};
    }
    if (!body->name || !body->password) {
      answer(self, error(400, "missing_field", "name and password are required"));
      return {};
    }
    if (p[1] == "signup") {
      self->request(auth, 30s, signup_atom::value, *body->name, *body->password,
                    body->display_name.value_or(""))
        .then([self](std::string& out) { answer(self, json(201, std::move(out))); },
              [self](caf::error& err) { answer(self, error(err)); });
    } else {
      self->request(auth, 30s, login_atom::value, *body->name, *body->password)
        .then([self](std::string& out) { answer(self, json(200, std::move(out))); },
              [self](caf::error& err) { answer(self, error(err)); });
    }
    return {[](idle_atom, uint64_t) {}};
  }
  auto token = bearer(req.authorization);
  if (token.empty()) {
    answer(self, error(401, "unauthorized", "send Authorization: Bearer <token>"));
    return {};
  }
  auto who = ctx->accounts->authenticate(token);
  if (!who) {
    answer(self, error(401, "invalid_token", "invalid or expired token"));
    return {};
  }
  if (p.size() == 2 && p[1] == "logout" && req.method == "POST") {
    ctx->accounts->log_out(token);
    answer(self, json(200, "{}"));
    return {};
  }
  route_authenticated(self, *who, req, r, *body);
  if (self->state.answered)
    return {};
  // Keep the actor alive until its requests answer (they always do: every request has a
  // timeout), then it quits in answer().
  return {[](idle_atom, uint64_t) {}};
}


caf::behavior auth_worker(runtime::supervised_actor*, node_context_ptr ctx) {
  return {
    [ctx](signup_atom, const std::string& name, const std::string& password,
          const std::string& display) -> caf::result<std::string> {
      auto u = ctx->accounts->sign_up(name, password, display);
      if (!u)
        return account_error(u.error());
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().key("user");
      write_user(w, *u);
      w.end_object();
      return out;
    },
    [ctx](login_atom, const std::string& name,
          const std::string& password) -> caf::result<std::string> {
      auto s = ctx->accounts->log_in(name, password);
      if (!s)
        return account_error(s.error());
      std::string out;
      protocol::json_writer w{out};
      w.begin_object().field("token", s->token).field("expires", s->expires_ms).key("user");
      write_user(w, s->who);
      w.end_object();
      return out;
    },
  };
}

} // namespace

void serve_http(caf::actor_system& sys, node_context_ptr ctx, transport::http_request req,
                std::function<void(transport::http_response)> respond) {
  sys.spawn(request_impl, std::move(ctx), std::move(req), std::move(respond));
}

runtime::child_spec auth_worker_spec(node_context_ptr ctx) {
  runtime::child_spec cs;
  cs.id = "auth";
  cs.kind = "auth";
  cs.registered = true;
  cs.start = [ctx](runtime::child_context& c) {
    return c.self->spawn<caf::detached>(auth_worker, ctx);
  };
  return cs;
}

} // namespace sb::actors
