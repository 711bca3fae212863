#include "cluster/membership.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "cluster/placement.hpp"

namespace sb::cluster {

namespace {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

uint64_t unix_ms() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
}

int64_t steady_ns(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

constexpr size_t max_events = 256;

} // namespace

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::etcd_unavailable: return "etcd_unavailable";
    case errc::config_mismatch: return "config_mismatch";
    case errc::node_id_taken: return "node_id_taken";
    case errc::bad_record: return "bad_record";
  }
  return "unknown";
}

const char* to_string(self_state s) noexcept {
  switch (s) {
    case self_state::joining: return "joining";
    case self_state::serving: return "serving";
    case self_state::fenced: return "fenced";
    case self_state::leaving: return "leaving";
  }
  return "unknown";
}

bool cluster_view::bootstrapped() const noexcept {
  return partitions.size() == partition_count
         && std::all_of(partitions.begin(), partitions.end(),
                        [](const auto& p) { return p.has_value(); });
}

bool cluster_view::alive(uint32_t node) const noexcept {
  auto i = nodes.find(node);
  return i != nodes.end() && i->second.alive;
}

const partition_view* cluster_view::partition(uint32_t p) const noexcept {
  if (p >= partitions.size() || !partitions[p])
    return nullptr;
  return &*partitions[p];
}

struct membership::impl {
  membership_options opts;
  keys k;
  std::function<void()> on_change;

  mutable std::mutex mu;
  std::shared_ptr<const cluster_view> view; // guarded by mu
  std::deque<cluster_event> events;         // guarded by mu
  steady::time_point membership_changed = steady::now(); // guarded by mu

  std::atomic<bool> registered{false};
  std::atomic<int64_t> last_ok_ns{0}; // steady time a successful keepalive was *sent*
  std::atomic<int64_t> lease{0};
  std::atomic<int64_t> incarnation{0};
  std::atomic<bool> leaving{false};
  std::atomic<bool> was_serving{false}; // the last state anyone observed
  std::atomic<uint64_t> fenced_count{0};
  int64_t controller_epoch = 0; // keeper thread only: ours while nonzero

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stop = false; // guarded by stop_mu
  std::mutex watch_mu;
  etcd::watch* live_watch = nullptr; // guarded by watch_mu: cancelled by leave()
  std::thread keeper;
  std::thread watcher;

  std::chrono::milliseconds margin() const {
    return std::min<std::chrono::milliseconds>(1000ms, opts.lease_ttl / 3);
  }

  bool fresh(steady::time_point at = steady::now()) const noexcept {
    if (!registered.load() || leaving.load())
      return false;
    auto deadline = last_ok_ns.load() + std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          opts.lease_ttl - margin())
                                          .count();
    return steady_ns(at) < deadline;
  }

  /// Whether this node may serve now. The state flips on the clock, not on the keeper's
  /// ticks (a fence can start and end between two of them), so every caller that sees a
  /// flip records it: one atomic exchange, the log and the notification only on a change.
  /// The flip is logged at the moment its clock check began (not when the log is written):
  /// any thread that acts on a `serving` answer does so after that check, so a `serving`
  /// event's time is a true lower bound of every ack and delivery that follows it, even
  /// when the logging thread is preempted between the check and the log.
  bool serving() noexcept {
    auto at = steady::now();
    bool now = fresh(at);
    if (was_serving.load(std::memory_order_relaxed) != now
        && was_serving.exchange(now) != now) {
      if (!now)
        ++fenced_count;
      // Wall time at `at`, rounded down: floor(wall now) - ceil(elapsed) <= wall at `at`.
      auto elapsed_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - at);
      auto at_ms = unix_ms() - static_cast<uint64_t>((elapsed_ns.count() + 999'999) / 1'000'000);
      log_event(now ? "serving" : "fenced",
                now ? std::string{"lease fresh: acking and delivering"}
                    : std::string{"no keepalive within the lease: no acks, no deliveries"},
                at_ms);
      if (on_change)
        on_change();
    }
    return now;
  }

  void log_event(std::string what, std::string detail, uint64_t at_ms = unix_ms()) {
    std::lock_guard lock{mu};
    events.push_back({at_ms, std::move(what), std::move(detail)});
    if (events.size() > max_events)
      events.pop_front();
  }

  bool wait_stop(std::chrono::milliseconds d) {
    std::unique_lock lock{stop_mu};
    return stop_cv.wait_for(lock, d, [this] { return stop; });
  }

  bool stopping() {
    std::lock_guard lock{stop_mu};
    return stop;
  }

  int64_t ttl_s() const {
    return std::max<int64_t>(1, (opts.lease_ttl.count() + 999) / 1000);
  }

  // --- joining -------------------------------------------------------------------------

  result<bool> check_config(etcd::client& c, steady::time_point deadline) {
    config_record ours{std::string{protocol_version}, partition_count};
    for (;;) {
      auto r = c.txn({{k.config(), etcd::compare::target::create_revision,
                       etcd::compare::op::equal, 0, {}}},
                     {etcd::operation::put(k.config(), encode(ours))},
                     {etcd::operation::get(k.config())});
      if (r) {
        if (r->succeeded)
          return true;
        if (r->ranges.empty() || r->ranges[0].kvs.empty())
          continue; // deleted in between: try again
        auto theirs = decode_config(r->ranges[0].kvs[0].value);
        if (!theirs)
          return error{errc::bad_record, "the cluster's config record at " + k.config()
                                           + " is not readable by this build"};
        if (*theirs != ours)
          return error{errc::config_mismatch,
                       "the cluster runs protocol " + theirs->protocol + " with "
                         + std::to_string(theirs->partitions) + " partitions; this build speaks "
                         + ours.protocol + " with " + std::to_string(ours.partitions)
                         + ": refusing to join"};
        return true;
      }
      if (steady::now() >= deadline)
        return error{errc::etcd_unavailable, "etcd at " + opts.etcd.host + ":"
                                               + std::to_string(opts.etcd.port)
                                               + " did not answer: " + r.error().message};
      std::this_thread::sleep_for(250ms);
    }
  }

  /// One attempt to register a new incarnation. Answers the holder's record when the id
  /// is taken, nullopt on success; an etcd error otherwise.
  etcd::result<std::optional<std::string>> try_register(etcd::client& c) {
    auto sent = steady::now();
    auto granted = c.lease_grant(ttl_s());
    if (!granted)
      return granted.error();
    node_record self;
    {
      std::lock_guard lock{mu}; // announce_http may update the record
      self = opts.self;
    }
    auto r = c.txn({{k.node(self.id), etcd::compare::target::create_revision,
                     etcd::compare::op::equal, 0, {}}},
                   {etcd::operation::put(k.node(self.id), encode(self), granted->id),
                    etcd::operation::put(k.member(self.id), encode(self))},
                   {etcd::operation::get(k.node(self.id))});
    if (!r || !r->succeeded) {
      c.lease_revoke(granted->id);
      if (!r)
        return r.error();
      std::string holder = r->ranges.empty() || r->ranges[0].kvs.empty()
                             ? std::string{"(gone)"}
                             : r->ranges[0].kvs[0].value;
      return std::optional<std::string>{std::move(holder)};
    }
    lease = granted->id;
    incarnation = r->revision;
    last_ok_ns = steady_ns(sent);
    registered = true;
    controller_epoch = 0;
    log_event("registered", "node " + std::to_string(self.id) + " incarnation "
                              + std::to_string(r->revision));
    return std::optional<std::string>{};
  }

  result<bool> register_node(etcd::client& c, steady::time_point deadline) {
    for (;;) {
      auto r = try_register(c);
      if (r && !*r)
        return true;
      if (steady::now() >= deadline) {
        if (!r)
          return error{errc::etcd_unavailable, "etcd did not answer: " + r.error().message};
        return error{errc::node_id_taken,
                     "node id " + std::to_string(opts.self.id)
                       + " is held by a live node: " + **r
                       + " (each node needs its own --node-id)"};
      }
      std::this_thread::sleep_for(250ms);
    }
  }

  // --- the view ------------------------------------------------------------------------

  /// Applies one put or delete to `v`; answers whether the set of live nodes changed.
  bool apply(cluster_view& v, const etcd::watch_event& e) {
    const auto& kv = e.kv;
    bool put = e.what == etcd::watch_event::kind::put;
    if (auto id = keys::number_after(kv.key, k.nodes())) {
      auto& n = v.nodes[*id];
      bool was = n.alive;
      if (put) {
        if (auto rec = decode_node(kv.value))
          n.record = *rec;
        n.alive = true;
        n.incarnation = kv.create_revision;
        n.lease = kv.lease;
      } else {
        n.alive = false;
        n.incarnation = 0;
        n.lease = 0;
      }
      if (was != n.alive)
        log_event(n.alive ? "node_up" : "node_down",
                  "node " + std::to_string(*id)
                    + (n.alive ? " incarnation " + std::to_string(kv.create_revision)
                               : std::string{" lease ended"}));
      return was != n.alive;
    }
    if (auto id = keys::number_after(kv.key, k.members())) {
      if (put)
        if (auto rec = decode_node(kv.value); rec && !v.nodes[*id].alive)
          v.nodes[*id].record = *rec;
      return false;
    }
    if (auto p = keys::number_after(kv.key, k.partitions()); p && *p < partition_count) {
      if (put) {
        if (auto rec = decode_partition(kv.value)) {
          note_move(*p, v.partitions[*p], *rec, kv.mod_revision);
          v.partitions[*p] = partition_view{*rec, kv.mod_revision};
        }
      } else {
        v.partitions[*p].reset();
      }
      return false;
    }
    if (kv.key == k.controller()) {
      if (put) {
        auto rec = decode_controller(kv.value);
        v.controller = rec ? rec->node : 0;
        v.controller_epoch = kv.create_revision;
        log_event("controller", "node " + std::to_string(v.controller) + " epoch "
                                  + std::to_string(kv.create_revision));
      } else {
        v.controller = 0;
        v.controller_epoch = 0;
      }
    }
    return false;
  }

  /// Logs a planned move's steps as this node sees them (any node: the event log of moves).
  void note_move(uint32_t p, const std::optional<partition_view>& was, const partition_record& now,
                 int64_t epoch) {
    if (!was)
      return; // bootstrap (or the first read): logged as one bootstrap line
    auto& before = was->record;
    auto at = "partition " + std::to_string(p) + " epoch " + std::to_string(epoch) + ": ";
    if (now.state == partition_state::moving && before.state != partition_state::moving)
      log_event("move_started", at + "node " + std::to_string(now.primary) + " -> node "
                                  + std::to_string(now.move_to));
    else if (before.state == partition_state::moving && now.state == partition_state::stable)
      log_event(now.primary == before.primary ? "move_aborted" : "move_done",
                at + "owner node " + std::to_string(now.primary));
  }

  // --- planned moves (the owner's mover thread) --------------------------------------

  /// One compare-and-swap step on partition `p`'s record: reads it, lets `next` decide
  /// (nullopt + why: refuse; a record equal to the one read: already done), and writes the
  /// new record only if neither the record nor this incarnation's node key changed since.
  move_step move_txn(uint32_t p,
                     const std::function<std::optional<partition_record>(
                       const partition_record&, int64_t epoch, std::string& why)>& next) {
    if (!serving())
      return {false, 0, false, "this node is fenced (no fresh lease)"};
    etcd::client c{opts.etcd};
    auto got = c.range(k.partition(p));
    if (!got)
      return {false, 0, true, "etcd did not answer: " + got.error().message};
    if (got->kvs.empty())
      return {false, 0, false, "partition " + std::to_string(p) + " has no record yet"};
    auto& kv = got->kvs[0];
    auto rec = decode_partition(kv.value);
    if (!rec)
      return {false, 0, false, "partition " + std::to_string(p) + "'s record is unreadable"};
    std::string why;
    auto want = next(*rec, kv.mod_revision, why);
    if (!want)
      return {false, kv.mod_revision, false, why};
    if (*want == *rec)
      return {true, kv.mod_revision, false, {}};
    auto r = c.txn({{k.partition(p), etcd::compare::target::mod_revision,
                     etcd::compare::op::equal, kv.mod_revision, {}},
                    {k.node(opts.self.id), etcd::compare::target::create_revision,
                     etcd::compare::op::equal, incarnation.load(), {}}},
                   {etcd::operation::put(k.partition(p), encode(*want))});
    if (!r)
      return {false, 0, true, "etcd did not answer: " + r.error().message};
    if (!r->succeeded)
      return {false, 0, true, "the record or this node's registration changed; read again"};
    return {true, r->revision, false, {}};
  }

  void publish(std::shared_ptr<const cluster_view> v, bool membership_moved) {
    if (opts.before_publish)
      opts.before_publish(v);
    {
      std::lock_guard lock{mu};
      view = std::move(v);
      if (membership_moved)
        membership_changed = steady::now();
    }
    if (on_change)
      on_change();
  }

  /// A full read of the prefix: the view at one revision.
  etcd::result<std::shared_ptr<cluster_view>> read_all(etcd::client& c) {
    auto r = c.range_prefix(opts.prefix);
    if (!r)
      return r.error();
    auto v = std::make_shared<cluster_view>();
    v->partitions.resize(partition_count);
    v->revision = r->revision;
    // Members first, so a live node's own record wins over its member record.
    std::stable_partition(r->kvs.begin(), r->kvs.end(), [this](const etcd::key_value& kv) {
      return kv.key.starts_with(k.members());
    });
    for (auto& kv : r->kvs)
      apply(*v, {etcd::watch_event::kind::put, kv});
    return v;
  }

  void watch_loop() {
    etcd::client c{opts.etcd};
    int64_t rev = 0;
    {
      std::lock_guard lock{mu};
      rev = view->revision;
    }
    while (!stopping()) {
      etcd::watch w{opts.etcd, opts.prefix, etcd::prefix_end(opts.prefix), rev + 1};
      {
        std::lock_guard lock{watch_mu};
        live_watch = &w;
      }
      auto opened = w.open();
      while (opened && !stopping()) {
        auto batch = w.next(500ms);
        if (!batch) {
          if (batch.code() == etcd::errc::compacted) {
            // History we missed is gone: read the whole state again, then watch on.
            if (auto fresh = read_all(c)) {
              rev = (*fresh)->revision;
              publish(std::move(*fresh), true);
            }
          }
          break;
        }
        if (batch->events.empty())
          continue;
        std::shared_ptr<const cluster_view> base;
        {
          std::lock_guard lock{mu};
          base = view;
        }
        auto next = std::make_shared<cluster_view>(*base);
        bool moved = false;
        for (auto& e : batch->events) {
          moved |= apply(*next, e);
          rev = std::max(rev, e.kv.mod_revision);
        }
        next->revision = std::max(rev, batch->revision);
        publish(std::move(next), moved);
      }
      {
        std::lock_guard lock{watch_mu};
        live_watch = nullptr;
      }
      if (!stopping())
        wait_stop(200ms); // etcd away or the stream broke: reopen from rev + 1
    }
  }

  // --- the keeper: lease, fencing, controller ------------------------------------------

  void keep_loop() {
    etcd::client c{opts.etcd};
    while (!wait_stop(registered ? opts.lease_ttl / 3 : 250ms)) {
      // First look at the clock: a process that was frozen wakes here past its lease, and
      // must record (and act on) being fenced before a keepalive can make it fresh again.
      note_serving();
      if (registered) {
        auto sent = steady::now();
        auto r = c.lease_keepalive(lease);
        if (r) {
          last_ok_ns = steady_ns(sent);
        } else if (r.code() == etcd::errc::not_found) {
          registered = false;
          controller_epoch = 0;
          log_event("lease_lost", "lease " + std::to_string(lease.load())
                                    + " expired: this node's key is gone, re-registering");
        }
      }
      if (!registered) {
        auto r = try_register(c);
        (void)r; // retried on the next tick until the old key's lease has ended
      }
      note_serving();
      if (registered && serving())
        controller_duty(c);
    }
  }

  void note_serving() { (void)serving(); }

  void controller_duty(etcd::client& c) {
    std::shared_ptr<const cluster_view> v;
    steady::time_point changed;
    {
      std::lock_guard lock{mu};
      v = view;
      changed = membership_changed;
    }
    if (controller_epoch == 0) {
      if (v->controller_epoch != 0)
        return; // someone else holds it
      auto r = c.txn({{k.controller(), etcd::compare::target::create_revision,
                       etcd::compare::op::equal, 0, {}}},
                     {etcd::operation::put(k.controller(), encode(controller_record{opts.self.id}),
                                           lease)});
      if (!r || !r->succeeded)
        return;
      controller_epoch = r->revision;
    }
    if (v->bootstrapped())
      return;
    std::vector<uint32_t> alive;
    for (auto& [id, n] : v->nodes)
      if (n.alive)
        alive.push_back(id);
    if (alive.size() < opts.expect_nodes || steady::now() - changed < opts.stable_after)
      return;
    bootstrap(c, *v, alive);
  }

  /// Gives every partition without a record its rendezvous primary, in chunks that stay
  /// under etcd's default limit of 128 operations per txn; each chunk holds only while
  /// this node is still the controller of `controller_epoch`.
  void bootstrap(etcd::client& c, const cluster_view& v, const std::vector<uint32_t>& alive) {
    auto proposal = propose_primaries(alive);
    constexpr uint32_t chunk = 64;
    uint32_t assigned = 0;
    for (uint32_t first = 0; first < partition_count; first += chunk) {
      std::vector<etcd::compare> cmp{{k.controller(), etcd::compare::target::create_revision,
                                      etcd::compare::op::equal, controller_epoch, {}}};
      std::vector<etcd::operation> ops;
      for (uint32_t p = first; p < first + chunk && p < partition_count; ++p) {
        if (v.partitions[p])
          continue;
        cmp.push_back({k.partition(p), etcd::compare::target::create_revision,
                       etcd::compare::op::equal, 0, {}});
        partition_record rec{proposal[p], {proposal[p]}, partition_state::stable, 0};
        ops.push_back(etcd::operation::put(k.partition(p), encode(rec)));
      }
      if (ops.empty())
        continue;
      auto r = c.txn(cmp, ops);
      if (!r || !r->succeeded)
        return; // lost the controller role, or a record appeared: the next tick re-reads
      assigned += static_cast<uint32_t>(ops.size());
    }
    std::string nodes;
    for (auto n : alive)
      nodes += (nodes.empty() ? "" : ",") + std::to_string(n);
    log_event("bootstrap", std::to_string(assigned) + " partitions assigned over nodes "
                             + nodes);
  }
};

membership::membership(membership_options opts, std::function<void()> on_change)
  : opts_(std::move(opts)), impl_(std::make_unique<impl>()) {
  impl_->opts = opts_;
  impl_->k = keys{opts_.prefix};
  impl_->on_change = std::move(on_change);
}

result<std::unique_ptr<membership>> membership::join(membership_options opts,
                                                     std::function<void()> on_change) {
  std::unique_ptr<membership> m{new membership(std::move(opts), std::move(on_change))};
  auto& d = *m->impl_;
  etcd::client c{d.opts.etcd};
  if (auto ok = d.check_config(c, steady::now() + 10s); !ok)
    return ok.error();
  if (auto ok = d.register_node(c, steady::now() + 2 * d.opts.lease_ttl + 1s); !ok)
    return ok.error();
  auto v = d.read_all(c);
  if (!v)
    return error{errc::etcd_unavailable, "etcd did not answer: " + v.error().message};
  std::shared_ptr<const cluster_view> first = std::move(*v);
  if (d.opts.before_publish)
    d.opts.before_publish(first);
  d.view = std::move(first);
  d.was_serving = d.fresh();
  d.watcher = std::thread{[&d] { d.watch_loop(); }};
  d.keeper = std::thread{[&d] { d.keep_loop(); }};
  return m;
}

membership::~membership() { leave(); }

void membership::leave() {
  auto& d = *impl_;
  {
    std::lock_guard lock{d.stop_mu};
    if (d.stop)
      return;
    d.stop = true;
  }
  d.leaving = true;
  d.stop_cv.notify_all();
  {
    std::lock_guard lock{d.watch_mu};
    if (d.live_watch)
      d.live_watch->cancel();
  }
  if (d.watcher.joinable())
    d.watcher.join();
  if (d.keeper.joinable())
    d.keeper.join();
  if (d.registered) {
    etcd::client c{d.opts.etcd, std::chrono::milliseconds(1000)};
    c.lease_revoke(d.lease); // peers see this node leave now, not after the TTL
    d.registered = false;
  }
}

bool membership::announce_http(const std::string& host_port) {
  auto& d = *impl_;
  {
    std::lock_guard lock{d.mu};
    d.opts.self.http = host_port;
  }
  opts_.self.http = host_port;
  if (!d.registered)
    return false; // the next registration carries it
  etcd::client c{d.opts.etcd};
  // Only into this incarnation's key: a txn on its create revision, never a new key.
  auto r = c.txn({{d.k.node(opts_.self.id), etcd::compare::target::create_revision,
                   etcd::compare::op::equal, d.incarnation.load(), {}}},
                 {etcd::operation::put(d.k.node(opts_.self.id), encode(opts_.self), d.lease),
                  etcd::operation::put(d.k.member(opts_.self.id), encode(opts_.self))});
  return r && r->succeeded;
}

move_step membership::begin_move(uint32_t p, uint32_t to) {
  auto self = opts_.self.id;
  auto alive = view()->alive(to);
  return impl_->move_txn(p, [self, to, alive](const partition_record& r, int64_t,
                                              std::string& why) -> std::optional<partition_record> {
    if (r.state == partition_state::moving && r.primary == self && r.move_to == to)
      return r; // already begun (asked again after a lost reply)
    if (r.primary != self || r.state != partition_state::stable) {
      why = "node " + std::to_string(self) + " is not the stable owner (owner node "
            + std::to_string(r.primary) + ", " + to_string(r.state) + ")";
      return std::nullopt;
    }
    if (to == self || !alive) {
      why = "node " + std::to_string(to) + (to == self ? " already owns it" : " is not up");
      return std::nullopt;
    }
    return partition_record{self, {self}, partition_state::moving, to};
  });
}

move_step membership::finish_move(uint32_t p, int64_t epoch, uint32_t to) {
  auto self = opts_.self.id;
  return impl_->move_txn(p, [self, epoch, to](const partition_record& r, int64_t at,
                                              std::string& why) -> std::optional<partition_record> {
    partition_record done{to, {to}, partition_state::stable, 0};
    if (r == done)
      return r; // switched already (a lost reply)
    if (r.state != partition_state::moving || r.primary != self || r.move_to != to || at != epoch) {
      why = "the move of epoch " + std::to_string(epoch) + " is no longer open";
      return std::nullopt;
    }
    return done;
  });
}

move_step membership::abort_move(uint32_t p, int64_t epoch) {
  auto self = opts_.self.id;
  return impl_->move_txn(p, [self, epoch](const partition_record& r, int64_t at,
                                          std::string& why) -> std::optional<partition_record> {
    partition_record back{self, {self}, partition_state::stable, 0};
    if (r == back)
      return r;
    if (r.state != partition_state::moving || r.primary != self || at != epoch) {
      why = "the move of epoch " + std::to_string(epoch) + " is no longer open";
      return std::nullopt;
    }
    return back;
  });
}

std::shared_ptr<const cluster_view> membership::view() const {
  std::lock_guard lock{impl_->mu};
  return impl_->view;
}

bool membership::serving() const noexcept { return impl_->serving(); }

self_state membership::state() const noexcept {
  if (impl_->leaving)
    return self_state::leaving;
  return impl_->serving() ? self_state::serving : self_state::fenced;
}

int64_t membership::incarnation() const noexcept { return impl_->incarnation; }

int64_t membership::lease_left_ms() const noexcept {
  auto& d = *impl_;
  if (!d.registered)
    return 0;
  auto end = d.last_ok_ns.load()
             + std::chrono::duration_cast<std::chrono::nanoseconds>(d.opts.lease_ttl).count();
  auto left = (end - steady_ns(steady::now())) / 1'000'000;
  return std::max<int64_t>(0, left);
}

uint64_t membership::times_fenced() const noexcept { return impl_->fenced_count; }

std::vector<cluster_event> membership::events() const {
  std::lock_guard lock{impl_->mu};
  return {impl_->events.begin(), impl_->events.end()};
}

} // namespace sb::cluster
