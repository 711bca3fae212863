// chat_metrics: the chat core's counters and histograms, registered once in the process
// registry (runtime/metrics.hpp) and bumped on hot paths with one relaxed atomic add.
// Scrape-time values (connections, restarts and mailbox maxima per actor kind, writer
// totals) are read from the supervisors and the commit pool by http/admin_metrics.cpp.
// Names and meanings are listed in docs/admin.md. No metric carries chat content.
#pragma once

#include "runtime/metrics.hpp"

namespace sb::actors {

/// References into runtime::metrics::global(); valid for the whole process.
struct chat_metrics {
  /// Messages (kind message) durably committed and acked.
  runtime::metrics::counter& messages_accepted;
  /// Events of every kind durably committed by channel actors.
  runtime::metrics::counter& events_committed;
  /// Live event frames handed to subscribed connections (one per subscriber).
  runtime::metrics::counter& messages_delivered;
  /// Channel append -> durable completion callback, seconds.
  runtime::metrics::histogram& commit_latency;
  /// Channel handles the commit -> frame handed to every subscriber, seconds.
  runtime::metrics::histogram& fanout_latency;
  /// Replay pages a connection received (resume, gaps, late subscribes).
  runtime::metrics::counter& resume_replays;
  /// Encoded bytes of the replayed frames.
  runtime::metrics::counter& replayed_bytes;
  /// Client ops refused by a connection's token bucket.
  runtime::metrics::counter& conn_rate_limited;
  /// Sends refused by a channel's token bucket.
  runtime::metrics::counter& channel_rate_limited;
  /// Writes refused by their author's write budget (actors/budgets.hpp).
  runtime::metrics::counter& user_write_rate_limited;
  /// Requests to /admin/api/ (any outcome).
  runtime::metrics::counter& admin_requests;
  /// Read cursors moved (mark_read over WS or HTTP), durable.
  runtime::metrics::counter& read_marks;
  /// Typing, presence and seen frames dropped for a connection over half its outbox.
  runtime::metrics::counter& ephemeral_shed;
  /// Presence frames the directory sent (one per channel batch or snapshot, per recipient).
  runtime::metrics::counter& presence_frames;
  /// Appends and read marks refused because this cluster node was fenced (lease lapsed).
  runtime::metrics::counter& fenced_rejects;
  /// Outages of a connection's channel subscription (the client got an `unavailable`
  /// notice for the channel; one per outage, not per retry).
  runtime::metrics::counter& conn_channel_outages;
  /// Subscription retries connections made by themselves (lost or refused subscriptions).
  runtime::metrics::counter& conn_channel_retries;
  /// History/thread reads refused by the per-user or per-IP read budget (both doors).
  runtime::metrics::counter& reads_rate_limited;
  /// Reads the storage reader pool refused at once because its queue was full.
  runtime::metrics::counter& reader_rejected;
  /// Queued reads the pool dropped unread (requester stopped, or deadline passed).
  runtime::metrics::counter& reader_skipped;
  /// Requests for local channels that do not exist, answered without starting an actor.
  runtime::metrics::counter& channel_misses;
  /// identifies refused (1013, retry_ms) because the node answered its most at once.
  runtime::metrics::counter& identify_refusals;

  /// The process-wide instance; the first call registers every metric, so /metrics lists
  /// them all from start-up on, at zero.
  static chat_metrics& get() {
    auto& r = runtime::metrics::global();
    static chat_metrics instance{
      r.add_counter("sb_messages_accepted_total", "Messages durably committed and acked."),
      r.add_counter("sb_events_committed_total", "Events of any kind durably committed."),
      r.add_counter("sb_messages_delivered_total",
                    "Live event frames handed to subscribed connections."),
      r.add_histogram("sb_commit_latency_seconds",
                      "Channel append to durable completion (group commit), seconds.",
                      runtime::metrics::latency_buckets_s()),
      r.add_histogram("sb_fanout_latency_seconds",
                      "Commit handled by the channel to frame handed to every subscriber, "
                      "seconds.",
                      runtime::metrics::latency_buckets_s()),
      r.add_counter("sb_resume_replays_total", "Replay pages sent to connections."),
      r.add_counter("sb_replayed_bytes_total", "Bytes of replayed event frames."),
      r.add_counter("sb_conn_rate_limited_total",
                    "Client ops refused by the per-connection rate limit."),
      r.add_counter("sb_channel_rate_limited_total",
                    "Sends refused by the per-channel rate limit."),
      r.add_counter("sb_user_write_rate_limited_total",
                    "Writes refused by their author's write budget (both doors)."),
      r.add_counter("sb_admin_requests_total", "Operator API requests (any outcome)."),
      r.add_counter("sb_read_marks_total", "Read cursors moved by mark_read (durable)."),
      r.add_counter("sb_ephemeral_shed_total",
                    "Typing/presence/seen frames dropped for connections over half their "
                    "outbox."),
      r.add_counter("sb_presence_frames_total",
                    "Presence frames sent to user actors and connections."),
      r.add_counter("sb_fenced_rejects_total",
                    "Writes refused (unavailable) while this cluster node was fenced."),
      r.add_counter("sb_conn_channel_outages_total",
                    "Channel subscriptions of connections found unavailable (one per outage)."),
      r.add_counter("sb_conn_channel_retries_total",
                    "Channel subscription retries made by connections."),
      r.add_counter("sb_reads_rate_limited_total",
                    "History/thread reads refused by the per-user or per-IP read budget."),
      r.add_counter("sb_reader_rejected_total",
                    "Reads refused (overloaded) because the reader pool's queue was full."),
      r.add_counter("sb_reader_skipped_total",
                    "Queued reads dropped unread (requester gone or deadline passed)."),
      r.add_counter("sb_channel_misses_total",
                    "Requests for channels that do not exist (no channel actor started)."),
      r.add_counter("sb_identify_refusals_total",
                    "identifies refused for load (closed 1013 with a retry delay)."),
    };
    return instance;
  }
};

} // namespace sb::actors
