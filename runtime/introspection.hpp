// Typed introspection snapshots: what the admin console draws.
// A supervisor answers a snapshot_query with one subtree_snapshot: its own row, a summary
// per child kind over all children, and one bounded page of child rows (cursor paging).
// Nested supervisors in the page can be expanded to a bounded depth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace sb::runtime {

/// Lifecycle state of a supervised child as its supervisor sees it.
enum class child_state : uint8_t {
  running,    ///< Started and alive.
  restarting, ///< Terminated; a restart is pending (e.g. after a failed start).
  stopping,   ///< Asked to stop; waiting for it to exit or for the shutdown timeout.
};

/// Human-readable name of a child state.
const char* to_string(child_state x) noexcept;

/// One actor as seen through introspection.
struct actor_info {
  uint64_t actor_id = 0;         ///< CAF actor id of the current incarnation (0 if none).
  uint64_t parent_id = 0;        ///< Actor id of the supervisor (0 for a root).
  uint64_t cursor = 0;           ///< Stable position under its supervisor (start order).
  std::string id;                ///< Child spec id.
  std::string kind;              ///< Domain kind ("channel", "supervisor", ...).
  std::string key;               ///< Domain key (e.g. the channel id).
  std::string state;             ///< "running", "restarting", "stopping".
  bool is_supervisor = false;    ///< Can be expanded with its own snapshot.
  bool instrumented = false;     ///< Mailbox and message counts are live (supervised_actor).
  uint64_t mailbox_depth = 0;    ///< Enqueued minus handled, read without messaging it.
  uint64_t messages_handled = 0; ///< By the current incarnation.
  uint64_t restarts = 0;         ///< How often its supervisor restarted it.
  std::string last_exit_reason;  ///< Rendered reason of its last abnormal exit, if any.
  int64_t started_at_ms = 0;     ///< Wall-clock start of the current incarnation (Unix ms).
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, actor_info& x) {
  return f(caf::meta::type_name("sb_actor_info"), x.actor_id, x.parent_id, x.cursor,
           x.id, x.kind, x.key, x.state, x.is_supervisor, x.instrumented,
           x.mailbox_depth, x.messages_handled, x.restarts, x.last_exit_reason,
           x.started_at_ms);
}

/// Aggregates over all children of one kind (not just the page).
struct kind_summary {
  std::string kind;              ///< Domain kind.
  uint64_t count = 0;            ///< Live children of this kind.
  uint64_t restarts = 0;         ///< Sum of their restart counts.
  uint64_t max_mailbox_depth = 0;///< Deepest mailbox of this kind.
  uint64_t messages_handled = 0; ///< Sum over current incarnations.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, kind_summary& x) {
  return f(caf::meta::type_name("sb_kind_summary"), x.kind, x.count, x.restarts,
           x.max_mailbox_depth, x.messages_handled);
}

/// Limits of one snapshot answer. Bounds hold for any number of children.
struct snapshot_query {
  uint64_t after = 0;       ///< Cursor: return children whose cursor is greater. Default: 0.
  uint32_t limit = 100;     ///< Page size, clamped to max_page. Default: 100.
  std::string key_prefix;   ///< Only children whose key starts with this. Default: all.
  std::string kind;         ///< Only children of this kind. Default: all.
  uint32_t depth = 0;       ///< Expand child supervisors in the page this deep (max 3).

  static constexpr uint32_t max_page = 1000; ///< Hard cap on rows per page.
  static constexpr uint32_t max_depth = 3;   ///< Hard cap on expansion depth.
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, snapshot_query& x) {
  return f(caf::meta::type_name("sb_snapshot_query"), x.after, x.limit, x.key_prefix,
           x.kind, x.depth);
}

/// A supervisor's view of its subtree: itself, summaries, one page of children.
struct subtree_snapshot {
  actor_info self;                       ///< The supervisor itself.
  std::string strategy;                  ///< Its restart strategy.
  uint64_t total_children = 0;           ///< All children, before filtering and paging.
  uint64_t matching_children = 0;        ///< Children passing the query's filters.
  uint64_t total_restarts = 0;           ///< Restarts this supervisor has performed.
  std::vector<kind_summary> kinds;       ///< Per-kind aggregates over all children.
  std::vector<actor_info> children;      ///< One page, in start order.
  uint64_t next_cursor = 0;              ///< Pass as `after` for the next page; 0 at the end.
  std::vector<subtree_snapshot> nested;  ///< Expanded child supervisors (query depth > 0).
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, subtree_snapshot& x) {
  return f(caf::meta::type_name("sb_subtree_snapshot"), x.self, x.strategy,
           x.total_children, x.matching_children, x.total_restarts, x.kinds,
           x.children, x.next_cursor, x.nested);
}

} // namespace sb::runtime
