// The load client: every WebSocket session of a run, driven by one io_context thread (async
// Beast underneath, hidden in client.cpp). Each session identifies (or resumes), keeps its
// own view of the channels it hears from and checks their seqs go up by exactly one; a
// publishing session sends messages that carry their send time. Scenarios hook in through
// run_state's callbacks. Nothing here locks: the one io thread runs every handler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "bench/stats.hpp"

namespace sb::bench {

namespace net = boost::asio;
using tcp = net::ip::tcp;

struct session;

/// One channel of the run, as the bench counts it.
struct chan_stat {
  uint64_t id = 0;
  uint64_t sent = 0;      // sends issued
  uint64_t acked = 0;
  uint64_t delivered = 0; // message events received over all member connections
  uint64_t members = 0;   // connections subscribed (expected deliveries per message)
  uint64_t max_acked_seq = 0;
  std::vector<session*> pubs;
  size_t rr = 0;
};

/// Everything the sessions share (one io thread: no locks).
struct run_state {
  net::io_context ioc{1};
  tcp::endpoint ep;
  std::string host;
  std::vector<chan_stat> chans;
  std::unordered_map<uint64_t, size_t> chan_index;
  bool measuring = false;
  bool delivery_latency = true; // record send-to-deliver latency of message events
  std::vector<uint32_t> lat_us; // send-to-deliver or send-to-ack, in the measured window
  uint64_t hb_interval_ms = 30000;
  std::function<void(session&)> on_ready;
  std::function<void(session&, size_t chan)> on_progress; // ack or delivery
  std::function<void(session&, size_t chan, uint64_t seq)> on_event;
  std::deque<std::shared_ptr<session>> connect_queue;
  long in_flight = 0;
  std::vector<std::shared_ptr<session>> all;
  int printed_errors = 0;
};

/// The run in progress (set by main around the scenario).
extern run_state* g_run;

/// The index of channel `id` in g_run->chans, adding it if new.
size_t chan_idx(uint64_t id);

/// Prints a violation or lost connection on stderr (the first 8, unless --json-only).
void print_problem(const std::string& what);

/// What a session knows of one channel it hears from.
struct sub_state {
  size_t chan;       // index into g_run->chans
  uint64_t last = 0; // last seq seen
  bool known = false;
};

/// One client connection: connect → handshake → hello/identify → ready, then a read loop;
/// writes queued, one in flight.
struct session : std::enable_shared_from_this<session> {
  std::deque<std::string> outq;
  bool writing = false;
  bool ready = false;
  bool dead = false;
  bool closing = false;
  bool in_flight_counted = false;
  std::string token;
  std::string resume_json; // "" or {"id":seq,...}
  tcp::endpoint ep;        // the node this session talks to (g_run->ep unless aimed)
  std::string host;
  // send-to-deliver latency: where this session's samples go (null: g_run->lat_us), and
  // an author whose messages it does not time (its own echoes in a DM; 0: none)
  std::vector<uint32_t>* lat = nullptr;
  uint64_t untimed_author = 0;
  std::vector<sub_state> subs;
  int64_t last_hb_ns = 0;
  // publishing
  uint64_t next_req = 1;
  long outstanding = 0;
  std::vector<int64_t> req_time; // send time by req % size (durable)
  std::vector<size_t> my_chans;  // channels this connection publishes to
  size_t my_rr = 0;
  // resume bookkeeping
  int64_t done_ns = -1;
  uint64_t tag = 0;
  // presence storm: frames received and the statuses this client knows
  uint64_t presence_frames = 0;
  uint64_t presence_entries = 0;
  std::unordered_map<uint64_t, std::string> view;

  explicit session(net::io_context& ioc);
  ~session();

  /// This session's state of channel index `chan`, or null.
  sub_state* sub(size_t chan);
  /// Connects to ep (called by pump_connects).
  void start();
  /// Queues one text frame.
  void send(std::string f);
  /// Drops the connection without a close handshake (a client losing its network).
  void drop();
  /// Publishes one message with the send time (ns since bench start) leading the text.
  void publish(size_t chan, size_t text_bytes);

private:
  struct link; // the Beast stream and read buffer
  std::unique_ptr<link> link_;

  void on_connect(const boost::system::error_code& ec);
  void do_read();
  void do_write();
  void release_slot();
  void fail(const char* where, const boost::system::error_code& ec);
  void on_frame(std::string_view f);
};

/// Starts queued connections while fewer than --connect-batch are connecting.
void pump_connects();

/// A session (not yet connected) kept in g_run->all, to the node on `port` (0: g_run's).
std::shared_ptr<session> new_session(const std::string& token, uint64_t tag,
                                     uint16_t port = 0);

/// Queues s for pump_connects.
void connect_later(const std::shared_ptr<session>& s);

/// Runs the io_context until pred() holds or `secs` pass; returns pred().
bool run_until(const std::function<bool()>& pred, double secs);

/// Runs the io_context for `secs`.
void run_for(double secs);

/// Heartbeats every identified connection at half the server's interval.
void start_heartbeats(net::steady_timer& t);

/// Connects everything queued; returns the seconds it took (or throws).
double connect_all(const char* what);

} // namespace sb::bench
