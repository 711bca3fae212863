// history_checker: checks what clients of a (clustered) chat saw against what they sent,
// per channel, in linear time. A channel is one append-only log with one writer (its
// owner) that numbers events 1, 2, 3, ..., so no search over interleavings is needed
// (the easy case of Elle's list-append): every observer must see one prefix-closed slice
// of the same numbered list.
//
// Input per channel: every send (its nonce and text, and the ack's seq and id if it was
// acked), and every observer: a live WebSocket subscriber or a history read over HTTP,
// with the events it saw in the order it saw them. Checked:
//   - one order: each observer's seqs strictly increase (a repeat is a duplicate, a step
//     back a reorder), and any two observers agree on the event at each seq;
//   - no gap: a contiguous observer (a live stream from its subscription on, a history
//     read page by page) has every seq from its first (or `from`) to its last;
//   - durability: every acked message is in every complete observer, at its acked seq,
//     with its text, nonce and id; a complete observer reaches the last acked seq;
//   - nothing invented: every message event is one that was sent (by nonce and text),
//     and no nonce is stored twice (an idempotent retry is one message).
// The report counts violations by kind and lists the first few in plain words.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace sb::testing::history {

/// One send a client made, with its ack when it got one.
struct sent {
  std::string nonce; ///< empty: sent without one (matched by text only)
  std::string text;
  std::optional<uint64_t> acked_seq; ///< set when the client got an ack
  std::string acked_id;              ///< the ack's event id ("" = not compared)
};

/// One event as an observer saw it. Every event kind carries a seq; only messages carry a
/// nonce and text that sends are matched against.
struct seen {
  uint64_t seq = 0;
  std::string type = "message"; ///< message, member_join, channel_created, ...
  std::string id;               ///< the event's id ("" = not compared)
  std::string nonce;
  std::string text;
};

/// One observer of one channel.
struct observer {
  std::string name; ///< in reports: "bob live on node 3", "history from node 1"
  std::vector<seen> events;
  /// Every seq from the first seen (or `from`) to the last must be there: true for a live
  /// stream from its subscription on and for a history read in pages.
  bool contiguous = true;
  /// The first seq this observer must have (0 = whatever it saw first). 1 for a history
  /// read from the start.
  uint64_t from = 0;
  /// It stayed until the end: every acked message at or after its start must be in it.
  bool complete = true;
};

/// One channel's sends and observers.
struct channel_history {
  std::string channel;
  std::vector<sent> sends;
  std::vector<observer> observers;
};

enum class violation_kind {
  gap,          ///< a contiguous observer skipped seqs
  duplicate,    ///< an observer saw a seq twice
  reorder,      ///< an observer saw a smaller seq after a larger one
  disagreement, ///< two observers saw different events at one seq
  lost_ack,     ///< an acked message is missing from a complete observer (or is elsewhere)
  ack_mismatch, ///< the event at an acked seq is not the message that was acked there
  phantom,      ///< a message that nobody sent, or with another text than was sent
  double_write, ///< one nonce stored at two seqs
};

inline const char* name_of(violation_kind k) {
  switch (k) {
    case violation_kind::gap: return "gap";
    case violation_kind::duplicate: return "duplicate";
    case violation_kind::reorder: return "reorder";
    case violation_kind::disagreement: return "disagreement";
    case violation_kind::lost_ack: return "lost ack";
    case violation_kind::ack_mismatch: return "ack mismatch";
    case violation_kind::phantom: return "phantom";
    case violation_kind::double_write: return "double write";
  }
  return "?";
}

inline constexpr size_t violation_kinds = 8;

/// What the checker found.
struct report {
  std::array<size_t, violation_kinds> counts{}; ///< violations per kind
  std::vector<std::string> listed;              ///< the first few, in plain words
  size_t channels = 0, observers = 0, events = 0, acks = 0;

  size_t total() const {
    size_t n = 0;
    for (auto c : counts)
      n += c;
    return n;
  }
  bool ok() const { return total() == 0; }
  size_t count(violation_kind k) const { return counts[static_cast<size_t>(k)]; }

  /// One paragraph for a test's failure message.
  std::string text() const {
    std::ostringstream out;
    out << channels << " channels, " << observers << " observers, " << events << " events, "
        << acks << " acks: ";
    if (ok()) {
      out << "no violation";
      return out.str();
    }
    out << total() << " violations (";
    bool first = true;
    for (size_t k = 0; k < violation_kinds; ++k)
      if (counts[k] != 0) {
        out << (first ? "" : ", ") << counts[k] << " " << name_of(static_cast<violation_kind>(k));
        first = false;
      }
    out << ")";
    for (auto& l : listed)
      out << "\n  - " << l;
    if (listed.size() < total())
      out << "\n  - ... and " << total() - listed.size() << " more";
    return out.str();
  }
};

namespace detail {

inline std::string describe(const seen& e) {
  std::string out = e.type;
  if (!e.nonce.empty())
    out += " nonce " + e.nonce;
  if (e.type == "message" || !e.text.empty())
    out += " \"" + (e.text.size() > 40 ? e.text.substr(0, 40) + "..." : e.text) + "\"";
  if (!e.id.empty())
    out += " id " + e.id;
  return out;
}

/// Same event: type, text and nonce always; ids when both sides have one.
inline bool same(const seen& a, const seen& b) {
  return a.type == b.type && a.nonce == b.nonce && a.text == b.text &&
         (a.id.empty() || b.id.empty() || a.id == b.id);
}

class collector {
public:
  collector(report& r, size_t max_listed) : r_(r), max_(max_listed) {}

  void add(violation_kind k, const std::string& channel, const std::string& what) {
    ++r_.counts[static_cast<size_t>(k)];
    if (r_.listed.size() < max_)
      r_.listed.push_back("channel " + channel + ": " + name_of(k) + ": " + what);
  }

private:
  report& r_;
  size_t max_;
};

inline void check_channel(const channel_history& ch, collector& bad, report& r) {
  const auto& c = ch.channel;
  // Sends by nonce (and nonce-less ones by text), for phantoms and ack checks.
  std::unordered_map<std::string, const sent*> by_nonce;
  std::unordered_set<std::string> texts_without_nonce;
  uint64_t last_acked = 0;
  for (auto& s : ch.sends) {
    if (s.nonce.empty())
      texts_without_nonce.insert(s.text);
    else
      by_nonce.emplace(s.nonce, &s);
    if (s.acked_seq) {
      ++r.acks;
      last_acked = std::max(last_acked, *s.acked_seq);
    }
  }
  // The first observer's event at each seq is the reference the others are compared to.
  struct ref {
    const seen* event;
    const observer* by;
  };
  std::unordered_map<uint64_t, ref> at_seq;
  std::unordered_map<std::string, uint64_t> seq_of_nonce; // as first stored
  for (auto& o : ch.observers) {
    ++r.observers;
    r.events += o.events.size();
    std::unordered_set<uint64_t> mine;
    // Seqs skipped by a step forward, [lo, hi), and how many of them came later (out of
    // order): a reorder is reported as such, and only what never came as a gap.
    struct hole {
      uint64_t lo, hi, late = 0;
      uint64_t after; ///< the seq before the step (0 = the observer's start)
    };
    std::vector<hole> holes;
    uint64_t prev = 0;
    bool any = false;
    for (auto& e : o.events) {
      bool fresh = mine.insert(e.seq).second;
      if (!fresh) {
        bad.add(violation_kind::duplicate, c,
                o.name + " saw seq " + std::to_string(e.seq) + " again (" + describe(e) + ")");
      } else if (any && e.seq < prev) {
        bad.add(violation_kind::reorder, c,
                o.name + " saw seq " + std::to_string(e.seq) + " after seq " +
                  std::to_string(prev));
        // Holes are disjoint and ascending: find the one this late seq fills.
        auto h = std::upper_bound(holes.begin(), holes.end(), e.seq,
                                  [](uint64_t s, const hole& x) { return s < x.hi; });
        if (h != holes.end() && h->lo <= e.seq)
          ++h->late;
      } else if (o.contiguous) {
        uint64_t expect = any ? prev + 1 : (o.from != 0 ? o.from : e.seq);
        if (e.seq > expect)
          holes.push_back(hole{expect, e.seq, 0, any ? prev : 0});
      }
      if (fresh && (!any || e.seq > prev)) {
        prev = e.seq;
        any = true;
      }
      if (!fresh)
        continue;
      // Agreement with whoever saw this seq first.
      auto [it, first] = at_seq.emplace(e.seq, ref{&e, &o});
      if (!first && !same(*it->second.event, e))
        bad.add(violation_kind::disagreement, c,
                "at seq " + std::to_string(e.seq) + " " + it->second.by->name + " saw " +
                  describe(*it->second.event) + " but " + o.name + " saw " + describe(e));
      if (!first || e.type != "message")
        continue;
      // Each stored message once: judged on the first observer of each seq, so a
      // disagreement is not counted again as a phantom.
      if (e.nonce.empty()) {
        if (texts_without_nonce.count(e.text) == 0)
          bad.add(violation_kind::phantom, c,
                  "seq " + std::to_string(e.seq) + " (" + describe(e) + ", seen by " + o.name +
                    ") was never sent");
        continue;
      }
      auto s = by_nonce.find(e.nonce);
      if (s == by_nonce.end()) {
        bad.add(violation_kind::phantom, c,
                "seq " + std::to_string(e.seq) + " (" + describe(e) + ", seen by " + o.name +
                  ") was never sent");
      } else if (s->second->text != e.text) {
        bad.add(violation_kind::phantom, c,
                "seq " + std::to_string(e.seq) + " (seen by " + o.name + ") has nonce " + e.nonce +
                  " with text \"" + e.text + "\", but \"" + s->second->text + "\" was sent");
      }
      auto [n, once] = seq_of_nonce.emplace(e.nonce, e.seq);
      if (!once && n->second != e.seq)
        bad.add(violation_kind::double_write, c,
                "nonce " + e.nonce + " is stored at seq " + std::to_string(n->second) +
                  " and at seq " + std::to_string(e.seq));
    }
    for (auto& h : holes) {
      auto missing = h.hi - h.lo - h.late;
      if (missing == 0)
        continue;
      bad.add(violation_kind::gap, c,
              o.name + " went from " +
                (h.after != 0 ? "seq " + std::to_string(h.after) : std::string{"its start"}) +
                " to seq " + std::to_string(h.hi) + ": " +
                (h.hi - h.lo == 1 ? "seq " + std::to_string(h.lo)
                                  : std::to_string(missing) + " of seqs " + std::to_string(h.lo) +
                                      ".." + std::to_string(h.hi - 1)) +
                " never arrived");
    }
  }
  // Durability: every acked message in every complete observer, where it was acked.
  for (auto& o : ch.observers) {
    if (!o.complete)
      continue;
    std::unordered_map<uint64_t, const seen*> mine;
    std::unordered_map<std::string, uint64_t> nonce_at;
    uint64_t first = 0, last = 0;
    for (auto& e : o.events) {
      mine.emplace(e.seq, &e);
      if (!e.nonce.empty())
        nonce_at.emplace(e.nonce, e.seq);
      first = first == 0 ? e.seq : std::min(first, e.seq);
      last = std::max(last, e.seq);
    }
    uint64_t start = o.from != 0 ? o.from : (first != 0 ? first : 1);
    if (start <= last_acked && last < last_acked)
      bad.add(violation_kind::lost_ack, c,
              o.name + " ends at seq " + std::to_string(last) + " before the last acked seq " +
                std::to_string(last_acked));
    for (auto& s : ch.sends) {
      if (!s.acked_seq || *s.acked_seq < start)
        continue;
      auto seq = *s.acked_seq;
      auto acked = "acked message " + (s.nonce.empty() ? "\"" + s.text + "\"" : s.nonce) +
                   " (seq " + std::to_string(seq) + ")";
      auto e = mine.find(seq);
      if (e == mine.end()) {
        if (seq > last)
          continue; // reported once above, as the observer ending early
        auto elsewhere = s.nonce.empty() ? nonce_at.end() : nonce_at.find(s.nonce);
        bad.add(violation_kind::lost_ack, c,
                acked + " is missing from " + o.name +
                  (elsewhere != nonce_at.end()
                     ? " (its nonce is at seq " + std::to_string(elsewhere->second) + ")"
                     : ""));
        continue;
      }
      const seen& got = *e->second;
      if (got.type != "message" || got.nonce != s.nonce || got.text != s.text ||
          (!s.acked_id.empty() && !got.id.empty() && got.id != s.acked_id))
        bad.add(violation_kind::ack_mismatch, c,
                acked + ": " + o.name + " has " + describe(got) + " there" +
                  (!s.acked_id.empty() && got.id != s.acked_id ? " (acked id " + s.acked_id + ")"
                                                               : ""));
    }
  }
}

} // namespace detail

/// Checks every channel; lists at most `max_listed` violations (all are counted).
inline report check(const std::vector<channel_history>& channels, size_t max_listed = 12) {
  report r;
  detail::collector bad{r, max_listed};
  for (auto& ch : channels) {
    ++r.channels;
    detail::check_channel(ch, bad, r);
  }
  return r;
}

} // namespace sb::testing::history
