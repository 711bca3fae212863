// connection_state: the connection actor's state and the functions its three files
// share (connection.cpp: the behaviour; connection_delivery.cpp: gap-free delivery and
// replay; connection_ops.cpp: one handler per client op). Internal to those files.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <caf/error.hpp>
#include <caf/stateful_actor.hpp>

#include "actors/admission.hpp"
#include "actors/channel_directory.hpp"
#include "actors/interfaces.hpp"
#include "actors/node_context.hpp"
#include "actors/token_bucket.hpp"
#include "actors/ws_bridge.hpp"
#include "runtime/actor_stats.hpp"
#include "runtime/clock.hpp"

namespace sb::actors::connection_detail {

using namespace std::chrono_literals;

// -- state ---------------------------------------------------------------------------

/// A FIFO that allocates nothing while empty. libstdc++'s std::deque allocates ~600 bytes
/// even when empty, a cost every idle connection would pay twice per channel.
template <class T>
class lazy_fifo {
public:
  bool empty() const noexcept { return head_ == items_.size(); }
  size_t size() const noexcept { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  template <class... Args>
  void emplace_back(Args&&... args) {
    items_.emplace_back(std::forward<Args>(args)...);
  }
  void pop_front() {
    items_[head_] = T{};
    if (++head_ == items_.size())
      clear();
  }
  /// Empties and frees the storage (a drained replay page gives its memory back).
  void clear() {
    std::vector<T>{}.swap(items_);
    head_ = 0;
  }

private:
  std::vector<T> items_;
  size_t head_ = 0;
};

/// Delivery state of one subscribed channel.
struct channel_sub {
  channel_actor channel;
  uint64_t delivered = 0;   // highest seq sent to the socket
  bool replaying = false;   // a replay page request is outstanding
  bool lagged = false;      // the buffer overflowed while replaying
  lazy_fifo<std::pair<uint64_t, frame>> buffer; // live events held back during replay
  lazy_fifo<std::pair<uint64_t, frame>> page;   // replayed events not yet in the outbox
  bool page_has_more = false;
  uint64_t replay_upto = 0;   // replay up to this seq (raised while a page is on its way)
  uint64_t replay_asked = 0;  // the `upto` of the page request on its way
  std::optional<uint64_t> resume_from; // identify asked to resume: send `resumed` when done
  // Kept subscribed by the connection itself (docs/protocol.md, "Channels that are
  // unavailable"): while `channel` is empty, a subscribe is on its way or a retry pending.
  bool subscribing = false;   // a subscribe request of keep_subscribed is on its way
  bool outage = false;        // the client was told `unavailable`; `resumed` ends the outage
  bool tell_refusal = false;  // a forbidden/not_found answer is sent to the client
  uint32_t retry_token = 0;   // the pending retry timer (0: none); at most one per channel
  uint32_t retries = 0;       // failed attempts in this outage: the backoff's exponent
};

enum class phase { awaiting_identify, identifying, ready };

/// Frames a client may send between `identify` and `ready` (they wait, then run in order);
/// the same bound as the bridge's before the actor runs.
constexpr size_t max_early_frames = 64;

struct connection_state {
  node_context_ptr ctx;
  std::shared_ptr<ws_bridge> bridge;
  phase now = phase::awaiting_identify;
  uint64_t user = 0;
  std::string user_name;
  std::string session;
  /// The token this connection identified with (re-checked on every tick: an expired or
  /// revoked session ends the connection with 4001) and its session_key (user.hpp).
  std::string token;
  uint64_t session_key = 0;
  /// The client address's key (actors/budgets.hpp peer_key): the per-IP read budget.
  uint64_t peer = 0;
  /// Held while this connection's identify is answered (actors/admission.hpp).
  identify_admission::ticket admitted;
  std::unordered_map<uint64_t, channel_sub> subs;
  token_bucket ops;
  int64_t last_heartbeat_ms = 0;
  int64_t opened_ms = 0;
  bool closing = false;
  user_actor user_hub;               // this user's actor: presence, activity, device sync
  int64_t activity_sent_ms = 0;      // last activity reported to it (throttled)
  std::unordered_map<uint64_t, int64_t> typing_sent; // channel -> last forwarded typing
  uint32_t next_retry_token = 0;     // tokens of channel retry timers (stale ones are ignored)
  std::minstd_rand jitter;           // the retry backoff's jitter
  /// Frames (text, binary) that came after `identify` and before `ready`: handled in order
  /// once ready, at most max_early_frames (docs/protocol.md, close code 4003).
  std::vector<std::pair<std::string, bool>> early;

  static inline const char* name = "connection";
};

using connection_self = caf::stateful_actor<connection_state, runtime::supervised_actor>;

/// The public interface plus what the socket's bridge and the actor's own timers send.
using connection_behavior = connection_actor::extend<
  caf::reacts_to<inbound_atom, std::string, bool>, ///< (text, binary) from the socket
  caf::reacts_to<closed_atom, uint16_t>,           ///< (close code) from the socket
  caf::reacts_to<pump_atom, uint64_t>,             ///< (channel): continue a paced replay
  caf::reacts_to<attach_atom>,                     ///< retry attaching to the user actor
  caf::reacts_to<resubscribe_atom, uint64_t, uint32_t>, ///< (channel, retry token)
  caf::reacts_to<tick_atom>,                       ///< heartbeat check
  caf::reacts_to<idle_atom>>::behavior_type;       ///< the identify deadline



// -- shared by connection.cpp, connection_delivery.cpp and connection_ops.cpp ----------

using runtime::now_ms;
namespace cc = transport::close_code;

/// Writes `text` to the socket (through the outbox).
void send_frame(connection_self* self, std::string text);

/// Sends an error frame answering `req`.
void send_error(connection_self* self, const std::string& req, std::string_view code,
                std::string_view message);
void send_error(connection_self* self, const std::string& req, const caf::error& err);

/// Closes the socket once with `code`.
void close_with(connection_self* self, uint16_t code, std::string reason);

/// Subscribes to `channel` and delivers everything after `after` first (delivery.cpp).
void subscribe(connection_self* self, uint64_t channel, uint64_t after,
               std::function<void(caf::error)> done, bool resuming = false);

/// Keeps the reserved entry `subs[channel]` subscribed from what it delivered: subscribes
/// now unless a subscribe is on its way; a failure that may pass (`unavailable`, a timeout)
/// tells the client once per outage and retries with backoff; `forbidden`/`not_found` drop
/// the entry (telling the client when it expects the channel). The recovery after an outage
/// replays the gap, then sends `resumed` (delivery.cpp).
void keep_subscribed(connection_self* self, uint64_t channel);

/// The subscription of `channel` is lost (its actor went down, a replay failed): forget it
/// and subscribe again after `delay` (keep_subscribed's retry path).
void lost_subscription(connection_self* self, uint64_t channel, caf::timespan delay);

/// A retry timer of `channel` fired; `token` tells stale timers apart.
void on_retry_timer(connection_self* self, uint64_t channel, uint32_t token);

/// A live event from a channel: in order, or held back while a gap is replayed.
void on_live(connection_self* self, uint64_t channel, uint64_t seq, frame& f);

/// Moves replayed events into the outbox while it is under half full.
void pump_replay(connection_self* self, uint64_t channel);

/// A typing/presence/seen frame, shed when the outbox is over half full (ops.cpp).
void send_ephemeral(connection_self* self, frame& f);

/// Attaches to the user actor `hdl` and watches it.
void attach_to_user(connection_self* self, caf::actor hdl);

/// Checks that the session this connection identified with is still live (at the token's
/// home); closes with 4001 when it expired or was revoked (ops.cpp).
void recheck_session(connection_self* self);

/// A text (or binary) frame from the client: parse, then one handler per op.
void on_inbound(connection_self* self, std::string& text, bool binary);

/// Asks the actor of `channel` (activating it) and sends `ok` the reply; every error, the
/// lookup's included, goes back to the client as the error frame of `req`.
template <class OnReply, class... Ts>
void ask_channel(connection_self* self, uint64_t channel, const std::string& req,
                 caf::timespan timeout, OnReply ok, Ts... xs) {
  with_channel(
    self, self->state.ctx, channel,
    [self, req, timeout, ok, xs...](channel_actor ch) {
      self->request(ch, timeout, xs...)
        .then(ok, [self, req](caf::error& err) { send_error(self, req, err); });
    },
    [self, req](caf::error err) { send_error(self, req, err); });
}


} // namespace sb::actors::connection_detail
