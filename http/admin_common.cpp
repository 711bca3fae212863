// admin_common: shared helpers of the operator API routes (see admin_common.hpp).
#include "http/admin_common.hpp"

#include <cmath>
#include <cstdio>

#include <caf/sec.hpp>

#include "actors/chat_error.hpp"
#include "runtime/errors.hpp"

namespace sb::http {

namespace rt = runtime;

/// A number with a fraction, as JSON (json_writer has no doubles).
std::string num(double v) {
  if (!std::isfinite(v))
    return "0";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

/// The dynamic supervisor of a child kind ("" when the kind is not one).
std::string supervisor_of(std::string_view kind) {
  if (kind == "channel")
    return "channels";
  if (kind == "user")
    return "users";
  if (kind == "connection")
    return "connections";
  return {};
}

void write_info(protocol::json_writer& w, const rt::actor_info& a) {
  w.begin_object()
    .field("actor_id", a.actor_id)
    .field("parent_id", a.parent_id)
    .field("cursor", a.cursor)
    .field("id", a.id)
    .field("kind", a.kind)
    .field("key", a.key)
    .field("state", a.state)
    .field("is_supervisor", a.is_supervisor)
    .field("instrumented", a.instrumented)
    .field("mailbox_depth", a.mailbox_depth)
    .field("messages_handled", a.messages_handled)
    .field("restarts", a.restarts)
    .field("last_exit_reason", a.last_exit_reason)
    .key("started_at_ms").sint(a.started_at_ms)
    .end_object();
}

/// Maps an error of a request to an actor: gone, timed out, unknown child, other.
void fail_request(request_actor* self, const caf::error& err) {
  if (err.category() == rt::runtime_error_category()) {
    if (err.code() == static_cast<uint8_t>(rt::errc::unknown_child))
      return fail(self, 404, "unknown_actor", "no such actor under its supervisor");
    if (err.code() == static_cast<uint8_t>(rt::errc::shutting_down))
      return fail(self, 503, "shutting_down", "the supervisor is stopping");
  }
  // Before the chat API's mapping, which reads these two as 503 unavailable / timeout:
  // the operator API's table (docs/protocol.md) says 409 actor_gone and 504 timeout.
  if (err == caf::sec::request_receiver_down)
    return fail(self, 409, "actor_gone", "the actor stopped while the request was made");
  if (err == caf::sec::request_timeout)
    return fail(self, 504, "timeout", "the actor did not answer in time");
  if (actors::describe(err).first != "internal")
    return fail(self, err); // a chat error (e.g. unavailable: a peer node is down), as the API maps it
  fail(self, 500, "internal", "unexpected error");
}

} // namespace sb::http
