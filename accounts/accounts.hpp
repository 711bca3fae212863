// Accounts: user sign-up, log-in with argon2id password hashes, and opaque session tokens.
//
// Records live in the store's tables (storage/schema.hpp, docs/storage.md):
//   user_names     <lowercased name>     -> be64 user id
//   user_accounts  <be64 id>             -> u8 version=1 | be64 id | be64 created_ms | str name
//                                           | str display_name | str argon2id hash
//                                           (str = be16 len + bytes)
//   sessions       <SHA-256(token), 32B> -> be64 user id | be64 expiry ms
//   user_accounts  <be64 id> 0x02 <SHA-256(token)> -> be64 created ms | be64 expiry ms
//                                           (the user's session index, written and deleted
//                                           in one batch with the session row)
//   user_accounts  <be64 id> 0x01        -> be64 failed log-ins | be64 last failure unix ms
//                                           (the log-in backoff; absent = none; deleted by
//                                           a successful log-in)
// A session token is 32 bytes as URL-safe base64 without padding (43 chars): the first is
// the user's home partition, the other 31 are random (248 bits). Only its SHA-256 is
// stored, so a copy of the data dir cannot be used to log in. Passwords and tokens never
// appear in error messages or logs. Plain C++20 + libsodium (no CAF).
//
// Home partition (docs/cluster.md, "Accounts across nodes"): a user's id is drawn so that
// cluster::partition_of(id) equals cluster::partition_of_name(lowercased name). Every
// user-scoped row (name, record, sessions) then lives on one partition, which any node
// finds from the name (sign-up, log-in), the id (user cards) or the token (its first byte).
//
// Log-in backoff (docs/protocol.md, "Log-in limits"): an account's failed log-ins are
// counted in its home partition's store, so a restart does not forget them. After
// `free_login_failures` failures in a row, each further attempt must wait
// min(max_backoff, backoff_base * 2^(failures - free_login_failures)) after the last
// failure; one earlier is refused `rate_limited` with the wait, before any hashing. A
// successful log-in deletes the count.
//
// Sessions per user (docs/protocol.md, "Sessions"): a user lists their sessions and revokes
// one, or all but the current one, by a public id (16 hex digits of the token's SHA-256;
// it cannot be turned back into the token). A log-in past `max_sessions_per_user` ends the
// user's oldest sessions. Sessions made before the index existed get their index row from
// the expiry sweep.
//
// Defaults: argon2id at libsodium's INTERACTIVE limits, sessions valid 30 days, up to
// 100,000 token hashes cached in memory (LRU); backoff after 5 failures, from 1 s up to
// 15 min; 100 sessions per user.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sodium.h>

#include "runtime/result.hpp"
#include "storage/store.hpp"

namespace sb::accounts {

/// Limits enforced by `service::sign_up`.
inline constexpr std::size_t min_name_chars = 1;
inline constexpr std::size_t max_name_chars = 32;
inline constexpr std::size_t min_password_bytes = 8;
inline constexpr std::size_t max_password_bytes = 256;
/// Longest password `log_in` takes: longer ones are refused (bad_password) before any
/// hashing (sign-up never stored one, so none can match).
inline constexpr std::size_t max_login_password_bytes = max_password_bytes;
inline constexpr std::size_t max_display_name_bytes = 64;
/// Length of a session token (URL-safe base64 of 32 random bytes, no padding).
inline constexpr std::size_t token_chars = 43;

/// The home partition of a user's rows from their name (any case), or nullopt when the
/// name is invalid.
std::optional<std::uint32_t> home_of_name(std::string_view name);
/// The home partition of a user by id (the same as of their name).
std::uint32_t home_of_user(std::uint64_t id) noexcept;
/// The home partition a session token names (its first byte), or nullopt when malformed.
std::optional<std::uint32_t> home_of_token(std::string_view token);

/// A registered user (never carries the password hash).
struct user {
  std::uint64_t id = 0;
  std::string name;         ///< lowercased, unique, [a-z0-9_.-]{1,32}
  std::string display_name; ///< free text (valid UTF-8, no control chars), <= 64 bytes
  std::uint64_t created_ms = 0;
  friend bool operator==(const user&, const user&) = default;
};

/// Error codes of the accounts module (stable: `to_string` names go into HTTP error bodies).
enum class errc {
  ok = 0,
  bad_name,            ///< user name (or display name) fails validation
  bad_password,        ///< password shorter than 8 or longer than 256 bytes
  name_taken,          ///< another user already has this name (case-insensitive)
  invalid_credentials, ///< unknown user or wrong password (deliberately indistinguishable)
  invalid_token,       ///< malformed, unknown, revoked or expired session token
  not_found,           ///< no such user
  storage,             ///< the store failed (or another internal failure, e.g. out of memory)
  forbidden,           ///< not allowed (e.g. a workspace owner leaving their workspace)
  rate_limited,        ///< too many failed log-ins for the account: wait `retry_ms`
};

/// Stable snake_case name of a code, e.g. "invalid_credentials".
const char* to_string(errc code) noexcept;

/// An error value: code plus a human-readable message (never a password or token).
struct error {
  errc code = errc::ok;
  std::string message;
  /// rate_limited: milliseconds until the next attempt is taken (at least 1); else 0.
  std::uint64_t retry_ms = 0;
};

/// For sb::result: the code of an error.
inline errc code_of(const error& e) noexcept { return e.code; }

/// Either a T or an `error`.
template <class T>
using result = sb::result<T, error>;

/// A logged-in session: the bearer `token` is shown to the client once and never stored.
struct session {
  user who;
  std::string token;
  std::uint64_t expires_ms = 0; ///< Unix ms
  /// Session keys (`session_key`) of the user's oldest sessions this log-in ended to stay
  /// within max_sessions_per_user: their connections should close.
  std::vector<std::uint64_t> ended;
};

/// One of a user's live sessions as they list it (never the token or its full hash).
struct session_info {
  std::string id;               ///< 16 lowercase hex digits (`session_id`)
  std::uint64_t created_ms = 0; ///< Unix ms of the log-in
  std::uint64_t expires_ms = 0; ///< Unix ms
  friend bool operator==(const session_info&, const session_info&) = default;
};

/// The public id of a token's session: the first 8 bytes of SHA-256(token) in hex; "" for a
/// malformed token.
std::string session_id(std::string_view token);
/// The key a connection and a revocation agree on for one session: the first 8 bytes of
/// SHA-256(token) as a big-endian number (the id's value), never 0 ("every session").
std::uint64_t session_key(std::string_view token);

/// Settings of `service`.
struct options {
  /// Session lifetime from log-in. Default: 30 days.
  std::uint64_t token_ttl_ms = 30ull * 24 * 3600 * 1000;
  /// argon2id passes. Default: crypto_pwhash_OPSLIMIT_INTERACTIVE (tests: OPSLIMIT_MIN).
  unsigned long long opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  /// argon2id memory in bytes. Default: crypto_pwhash_MEMLIMIT_INTERACTIVE (64 MiB).
  std::size_t memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  /// Token hashes kept in memory (LRU); 0 disables the cache. Default: 100,000.
  std::size_t max_cached_tokens = 100'000;
  /// Live sessions a user keeps; a log-in past it ends the oldest. 0 = no cap. Default: 100.
  std::size_t max_sessions_per_user = 100;
  /// Failed log-ins in a row an account takes before the backoff starts; 0 disables the
  /// backoff. Default: 5.
  std::uint32_t free_login_failures = 5;
  /// Wait after the first failure past the free ones; doubles with each further failure.
  /// Default: 1,000 ms.
  std::uint64_t backoff_base_ms = 1000;
  /// Longest wait. Default: 900,000 ms (15 min).
  std::uint64_t max_backoff_ms = 900'000;
};

/// Whether `s` is strict UTF-8 (no overlongs, surrogates or > U+10FFFF) without C0/C1
/// control characters or DEL: the rule for display names and workspace names.
bool is_display_text(std::string_view s) noexcept;

/// Whether `s` is fit to name a person, workspace or channel: display text (above) with at
/// least one drawn character, no space at either end, no bidi controls (U+202A-E, U+2066-9,
/// LRM/RLM/ALM), no invisible characters (zero-width space, word joiner, BOM, soft hyphen,
/// Hangul fillers, line/paragraph separators...), ZWJ/ZWNJ only between two drawn
/// characters, tag characters only in a subdivision flag. Names people see must not
/// impersonate each other or reorder the text around them.
bool is_name_text(std::string_view s) noexcept;

/// A channel's name: 1..80 bytes (storage::max_channel_name_bytes) of name text.
bool channel_name_ok(std::string_view s) noexcept;

/// Unix time in ms from the system clock (the default clock of `service`).
std::uint64_t system_now_ms();

/// Thread-safe. sign_up/log_in hash passwords (tens of ms) and do synced writes: call them
/// from a worker thread or detached actor, never from a cooperative scheduler or I/O thread.
/// Writes are synced per the store's `options().sync`.
class service {
public:
  /// `next_id` must return unique non-zero ids (e.g. storage::id_generator). Throws
  /// std::invalid_argument for opslimit/memlimit outside libsodium's range or an empty
  /// function, std::runtime_error if libsodium cannot initialise (the only throwing member).
  service(storage::store& db, std::function<std::uint64_t()> next_id, options opts = {},
          std::function<std::uint64_t()> now_ms = &system_now_ms);
  ~service();
  service(const service&) = delete;
  service& operator=(const service&) = delete;

  /// Registers a user. Errors: bad_name, bad_password, name_taken, storage.
  /// An empty display name defaults to `name` as given (before lowercasing).
  result<user> sign_up(std::string_view name, std::string_view password,
                       std::string_view display_name = {});

  /// Checks the password and creates a session. Unknown name and wrong password both give
  /// invalid_credentials with the same message and about the same time. A password over
  /// max_login_password_bytes is bad_password, at once. An account in its backoff gives
  /// rate_limited (with retry_ms) without hashing. Errors also: storage.
  result<session> log_in(std::string_view name, std::string_view password);

  /// The user of a live session. Fast: a bounded in-memory cache of token hash -> (user id,
  /// expiry), falling back to RocksDB. Errors: invalid_token (also when expired), storage.
  result<user> authenticate(std::string_view token);

  /// Revokes a session (deletes its hash, evicts it from the cache); true when revoked.
  /// Errors: invalid_token (malformed or unknown), storage.
  result<bool> log_out(std::string_view token);

  /// `user`'s live sessions, newest first (at most max_sessions_per_user, or 1,000 without a
  /// cap). Errors: storage.
  result<std::vector<session_info>> sessions_of(std::uint64_t user) const;

  /// Revokes `user`'s session whose id is `only`, or, with `only` empty, every one of
  /// theirs except the one whose id is `keep` ("" keeps none). Returns the session keys
  /// revoked (for revoked_atom). Errors: not_found (`only` names none of theirs), storage.
  result<std::vector<std::uint64_t>> revoke_sessions(std::uint64_t user, std::string_view only,
                                                     std::string_view keep);

  /// Deletes up to `max_entries` session entries that expired before now (one bounded scan
  /// of the `sessions` table from `after`, "" = the start), and writes the index row of a
  /// live one that has none (made before the index). Returns the key to continue from ("" =
  /// the scan reached the end) and adds the number deleted to `deleted`. Run periodically
  /// so abandoned sessions do not pile up. Errors: storage.
  result<std::string> sweep_expired_tokens(std::string_view after, std::size_t max_entries,
                                           std::size_t& deleted);

  /// Milliseconds until `name`'s account takes a log-in attempt (0: now, or no such
  /// account): a point read, no hashing. Errors: storage.
  result<std::uint64_t> login_wait_ms(std::string_view name) const;

  /// A user by id. Errors: not_found, storage.
  result<user> get(std::uint64_t id) const;

  /// A user by name (case-insensitive). Errors: not_found (also for invalid names), storage.
  result<user> find(std::string_view name) const;

  /// Empties the session cache: a cluster node that gains a partition back forgets what it
  /// cached before (a session revoked meanwhile on another node must not pass here).
  void forget_cached_sessions();

  /// Token hashes currently in the in-memory cache (<= max_cached_tokens; for metrics).
  std::size_t cached_tokens() const;

  const options& opts() const noexcept { return opts_; }

private:
  struct token_cache;

  /// Ends `user`'s oldest live sessions past max_sessions_per_user (never `keep`, the one
  /// just made) and tidies their expired index rows; returns the session keys ended.
  std::vector<std::uint64_t> end_oldest_sessions(std::uint64_t user,
                                                 const std::array<unsigned char, 32>& keep,
                                                 std::uint64_t now);

  storage::store& db_;
  std::function<std::uint64_t()> next_id_;
  options opts_;
  std::function<std::uint64_t()> now_ms_;
  std::string dummy_hash_; // verified against for unknown names, so timing matches
  std::unique_ptr<token_cache> cache_;
  std::mutex failures_mutex_; // one read-modify-write of a failure count at a time
};

} // namespace sb::accounts
