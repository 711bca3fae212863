// accounts::service: validation, argon2id hashing, token issue/lookup/revoke, token cache.
//
// Revocation vs. cache: `authenticate` reads the cache's revocation epoch before its
// RocksDB lookup and only caches the result if no `log_out` bumped the epoch meanwhile,
// so a token revoked during a lookup can never be put (back) into the cache.
#include "accounts/accounts.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <limits>
#include <list>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "accounts/record_codec.hpp"
#include "cluster/placement.hpp"
#include "storage/event.hpp"
#include "storage/keys.hpp"
#include "storage/schema.hpp"

namespace sb::accounts {

const char* to_string(errc code) noexcept {
  switch (code) {
    case errc::ok: return "ok";
    case errc::bad_name: return "bad_name";
    case errc::bad_password: return "bad_password";
    case errc::name_taken: return "name_taken";
    case errc::invalid_credentials: return "invalid_credentials";
    case errc::invalid_token: return "invalid_token";
    case errc::not_found: return "not_found";
    case errc::storage: return "storage";
    case errc::forbidden: return "forbidden";
    case errc::rate_limited: return "rate_limited";
  }
  return "unknown";
}

bool is_display_text(std::string_view s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (b < 0x80) {
      cp = b;
      len = 1;
    } else if (b >= 0xc2 && b <= 0xdf) {
      cp = b & 0x1f;
      len = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      cp = b & 0x0f;
      len = 3;
    } else if (b >= 0xf0 && b <= 0xf4) {
      cp = b & 0x07;
      len = 4;
    } else {
      return false;
    }
    if (i + len > s.size())
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (c & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
      return false;
    i += len;
  }
  return true;
}

namespace {

/// The code points of strict display text (is_display_text already said yes).
std::vector<std::uint32_t> code_points(std::string_view s) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < s.size();) {
    auto b = static_cast<unsigned char>(s[i]);
    std::size_t len = b < 0x80 ? 1 : b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
    std::uint32_t cp = len == 1 ? b : len == 2 ? (b & 0x1f) : len == 3 ? (b & 0x0f) : (b & 0x07);
    for (std::size_t k = 1; k < len; ++k)
      cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3f);
    out.push_back(cp);
    i += len;
  }
  return out;
}

/// Direction overrides, embeddings, isolates and marks: they reorder what follows them, so
/// "\u202Egnp.exe" shows as "exe.png".
bool is_bidi_control(std::uint32_t cp) {
  return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e)
         || (cp >= 0x2066 && cp <= 0x2069);
}

/// Characters that draw nothing: a name made of (or padded with) them impersonates another.
bool is_invisible(std::uint32_t cp) {
  return cp == 0x00ad || cp == 0x034f || cp == 0x115f || cp == 0x1160 || cp == 0x17b4
         || cp == 0x17b5 || cp == 0x180e || cp == 0x200b || (cp >= 0x2060 && cp <= 0x2064)
         || cp == 0x2028 || cp == 0x2029 || cp == 0x3164 || cp == 0xfeff || cp == 0xffa0
         || (cp >= 0xfff9 && cp <= 0xfffb) || (cp >= 0x1d173 && cp <= 0x1d17a)
         || cp == 0xe0001;
}

bool is_space(std::uint32_t cp) {
  return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a)
         || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

bool is_joiner(std::uint32_t cp) { return cp == 0x200c || cp == 0x200d; }
bool is_tag(std::uint32_t cp) { return cp >= 0xe0020 && cp <= 0xe007f; }

} // namespace

bool is_name_text(std::string_view s) noexcept {
  if (s.empty() || !is_display_text(s))
    return false;
  std::vector<std::uint32_t> cps;
  try {
    cps = code_points(s);
  } catch (...) {
    return false;
  }
  if (is_space(cps.front()) || is_space(cps.back()))
    return false;
  bool visible = false;
  for (std::size_t i = 0; i < cps.size(); ++i) {
    auto cp = cps[i];
    if (is_bidi_control(cp) || is_invisible(cp))
      return false;
    if (is_joiner(cp)) {
      // ZWJ joins emoji (a family), ZWNJ shapes Persian and Indic words: only ever
      // between two drawn characters, never at an end or beside another joiner or space.
      if (i == 0 || i + 1 == cps.size())
        return false;
      auto before = cps[i - 1], after = cps[i + 1];
      if (is_joiner(before) || is_joiner(after) || is_space(before) || is_space(after))
        return false;
      continue;
    }
    if (is_tag(cp)) {
      // Tags only spell a subdivision flag after U+1F3F4 (the black flag).
      if (i == 0 || (cps[i - 1] != 0x1f3f4 && !is_tag(cps[i - 1])))
        return false;
      continue;
    }
    if (!is_space(cp))
      visible = true;
  }
  return visible;
}

bool channel_name_ok(std::string_view s) noexcept {
  return s.size() <= storage::max_channel_name_bytes && is_name_text(s);
}

std::uint64_t system_now_ms() {
  using namespace std::chrono;
  return static_cast<std::uint64_t>(
    duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count());
}

namespace {

constexpr std::uint8_t record_version = 1;
constexpr const char* credentials_message = "invalid user name or password";
constexpr const char* token_message = "invalid or expired session token";

using token_hash = std::array<unsigned char, crypto_hash_sha256_BYTES>;

error storage_error(const storage::status& st) {
  return error{errc::storage, "storage: " + st.to_string()};
}

// -- validation ---------------------------------------------------------------------------

/// Lowercased name, or nullopt unless 1..32 chars of [A-Za-z0-9_.-].
std::optional<std::string> normalize_name(std::string_view name) {
  if (name.size() < min_name_chars || name.size() > max_name_chars)
    return std::nullopt;
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'
              || c == '-';
    if (!ok)
      return std::nullopt;
    out.push_back(c);
  }
  return out;
}

bool password_length_ok(std::string_view pw) {
  return pw.size() >= min_password_bytes && pw.size() <= max_password_bytes;
}

bool display_name_ok(std::string_view s) {
  return s.size() <= max_display_name_bytes && is_name_text(s);
}

/// 43 chars of the URL-safe base64 alphabet.
bool token_well_formed(std::string_view token) {
  if (token.size() != token_chars)
    return false;
  for (char c : token)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_'))
      return false;
  return true;
}

/// Ids drawn per sign-up before giving up: (255/256)^4096 is about 1e-7.
constexpr int max_id_draws = 4096;
static_assert(cluster::partition_count == 256, "a token's first byte names the partition");

// -- keys and records ---------------------------------------------------------------------

using storage::table;

std::string name_key(std::string_view lowered) {
  return storage::schema::user_name_key(lowered);
}

std::string user_key(std::uint64_t id) {
  return storage::schema::user_account_key(id);
}

std::string token_key(const token_hash& h) {
  return storage::schema::session_key(h);
}

token_hash hash_token(std::string_view token) {
  token_hash h;
  crypto_hash_sha256(h.data(), reinterpret_cast<const unsigned char*>(token.data()),
                     token.size());
  return h;
}

/// A stored user: the public part plus the argon2id hash string.
struct user_record {
  user who;
  std::string hash;
};

using detail::get_str;
using detail::put_str;

std::string encode_record(const user_record& r) {
  std::string out;
  out.push_back(static_cast<char>(record_version));
  storage::keys::put_be64(out, r.who.id);
  storage::keys::put_be64(out, r.who.created_ms);
  put_str(out, r.who.name);
  put_str(out, r.who.display_name);
  put_str(out, r.hash);
  return out;
}

std::optional<user_record> decode_record(std::string_view in) {
  if (in.size() < 17 || static_cast<std::uint8_t>(in[0]) != record_version)
    return std::nullopt;
  user_record r;
  r.who.id = storage::keys::get_be64(in.data() + 1);
  r.who.created_ms = storage::keys::get_be64(in.data() + 9);
  in.remove_prefix(17);
  if (!get_str(in, r.who.name) || !get_str(in, r.who.display_name) || !get_str(in, r.hash)
      || !in.empty())
    return std::nullopt;
  return r;
}

/// The record of `id`; not_found when absent.
result<user_record> load_record(const storage::store& db, std::uint64_t id) {
  auto raw = db.get_record(table::user_accounts, user_key(id));
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value())
    return error{errc::not_found, "no such user"};
  auto rec = decode_record(**raw);
  if (!rec || rec->who.id != id)
    return error{errc::storage, "corrupt user record " + std::to_string(id)};
  return std::move(*rec);
}

/// The id `n:<lowered>` points at, or nullopt.
result<std::optional<std::uint64_t>> lookup_name(const storage::store& db,
                                                 std::string_view lowered) {
  auto raw = db.get_record(table::user_names, name_key(lowered));
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value())
    return std::optional<std::uint64_t>{};
  auto id = storage::keys::decode_id(**raw);
  if (!id)
    return error{errc::storage, "corrupt name index entry"};
  return std::optional<std::uint64_t>{*id};
}

std::string hash_password(std::string_view pw, const options& o) {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str_alg(out, pw.data(), pw.size(), o.opslimit, o.memlimit,
                            crypto_pwhash_ALG_ARGON2ID13)
      != 0)
    return {};
  return std::string{out};
}

bool verify_password(const std::string& hash, std::string_view pw) {
  return crypto_pwhash_str_verify(hash.c_str(), pw.data(), pw.size()) == 0;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  return a > std::numeric_limits<std::uint64_t>::max() - b
           ? std::numeric_limits<std::uint64_t>::max()
           : a + b;
}

// -- log-in backoff -----------------------------------------------------------------------

/// An account's failed log-ins in a row and the time of the last one (unix ms).
struct login_failures {
  std::uint64_t count = 0;
  std::uint64_t last_ms = 0;
};

result<login_failures> load_failures(const storage::store& db, std::uint64_t id) {
  auto raw = db.get_record(table::user_accounts, storage::schema::login_failures_key(id));
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value())
    return login_failures{};
  auto v = storage::keys::decode_pair(**raw);
  if (!v)
    return login_failures{}; // a corrupt count is no count: the next failure rewrites it
  return login_failures{v->first, v->second};
}

/// Milliseconds from `now` until an account with `f` takes an attempt (0: now).
std::uint64_t backoff_wait_ms(const options& o, const login_failures& f, std::uint64_t now) {
  if (o.free_login_failures == 0 || f.count < o.free_login_failures)
    return 0;
  auto doublings = f.count - o.free_login_failures;
  std::uint64_t wait = o.max_backoff_ms;
  if (doublings < 40 && (o.backoff_base_ms << doublings) >> doublings == o.backoff_base_ms)
    wait = std::min(o.max_backoff_ms, o.backoff_base_ms << doublings);
  auto until = saturating_add(f.last_ms, wait);
  return until > now ? until - now : 0;
}

error backoff_error(std::uint64_t wait_ms) {
  auto s = (wait_ms + 999) / 1000;
  return error{errc::rate_limited,
               "too many failed log-ins for this account; retry in " + std::to_string(s) + " s",
               wait_ms};
}

// -- the session index --------------------------------------------------------------------

/// Index rows read per scan: a user over the cap (sessions from before the cap, or a cap
/// lowered since) is brought back under it a page at a time, one page per log-in.
constexpr std::size_t index_page = 4096;

std::uint64_t key_of_hash(const token_hash& h) {
  auto key = storage::keys::get_be64(reinterpret_cast<const char*>(h.data()));
  return key == 0 ? 1 : key; // 0 means "every session" in revoked_atom
}

std::string id_of_hash(const token_hash& h) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < 8; ++i) {
    out.push_back(digits[h[i] >> 4]);
    out.push_back(digits[h[i] & 0xf]);
  }
  return out;
}

std::string index_value(std::uint64_t created_ms, std::uint64_t expires_ms) {
  std::string v;
  storage::keys::put_be64(v, created_ms);
  storage::keys::put_be64(v, expires_ms);
  return v;
}

struct index_entry {
  token_hash hash{};
  std::uint64_t created_ms = 0;
  std::uint64_t expires_ms = 0;
};

/// Up to `limit` of `user`'s index rows, in key order (corrupt ones skipped).
result<std::vector<index_entry>> load_index(const storage::store& db, std::uint64_t user,
                                            std::size_t limit) {
  auto prefix = storage::schema::session_index_prefix(user);
  auto page = db.scan_records(table::user_accounts, prefix, "", limit);
  if (!page)
    return storage_error(page.error());
  std::vector<index_entry> out;
  out.reserve(page->size());
  for (auto& [key, value] : *page) {
    auto v = storage::keys::decode_pair(value);
    if (key.size() != prefix.size() + crypto_hash_sha256_BYTES || !v)
      continue;
    index_entry e;
    std::memcpy(e.hash.data(), key.data() + prefix.size(), e.hash.size());
    e.created_ms = v->first;
    e.expires_ms = v->second;
    out.push_back(e);
  }
  return out;
}

/// The two deletes that end one session: its row and its index row.
void end_session_ops(std::vector<storage::record_op>& ops, std::uint64_t user,
                     const token_hash& h) {
  ops.push_back({table::sessions, token_key(h), std::nullopt});
  ops.push_back({table::user_accounts, storage::schema::session_index_key(user, h),
                 std::nullopt});
}

} // namespace

// -- token cache ---------------------------------------------------------------------------

/// LRU map token hash -> (user id, expiry), plus the revocation epoch.
struct service::token_cache {
  struct entry {
    std::uint64_t user_id = 0;
    std::uint64_t expires_ms = 0;
  };
  struct hash_of_hash {
    std::size_t operator()(const token_hash& h) const noexcept {
      std::size_t v = 0; // the key is a SHA-256: any 8 bytes are uniformly distributed
      std::memcpy(&v, h.data(), sizeof v);
      return v;
    }
  };
  using lru_list = std::list<std::pair<token_hash, entry>>;

  explicit token_cache(std::size_t cap) : capacity(cap) {}

  std::optional<entry> lookup(const token_hash& h, std::uint64_t& epoch_out) {
    std::lock_guard guard{mutex};
    epoch_out = epoch;
    auto it = index.find(h);
    if (it == index.end())
      return std::nullopt;
    lru.splice(lru.begin(), lru, it->second);
    return it->second->second;
  }

  /// Inserts unless a revocation happened since `seen_epoch` (nullopt: unconditionally).
  void insert(const token_hash& h, entry e, std::optional<std::uint64_t> seen_epoch) {
    if (capacity == 0)
      return;
    std::lock_guard guard{mutex};
    if (seen_epoch && epoch != *seen_epoch)
      return;
    if (auto it = index.find(h); it != index.end()) {
      it->second->second = e;
      lru.splice(lru.begin(), lru, it->second);
      return;
    }
    while (index.size() >= capacity) {
      index.erase(lru.back().first);
      lru.pop_back();
    }
    lru.emplace_front(h, e);
    index.emplace(h, lru.begin());
  }

  /// Forgets every entry and bumps the epoch (in-flight lookups do not cache either).
  void clear() {
    std::lock_guard guard{mutex};
    ++epoch;
    index.clear();
    lru.clear();
  }

  /// Evicts `h`; with `revoke`, also bumps the epoch so in-flight lookups do not cache it.
  void evict(const token_hash& h, bool revoke) {
    std::lock_guard guard{mutex};
    if (revoke)
      ++epoch;
    if (auto it = index.find(h); it != index.end()) {
      lru.erase(it->second);
      index.erase(it);
    }
  }

  std::size_t size() {
    std::lock_guard guard{mutex};
    return index.size();
  }

  const std::size_t capacity;
  std::mutex mutex;
  lru_list lru; // front = most recently used
  std::unordered_map<token_hash, lru_list::iterator, hash_of_hash> index;
  std::uint64_t epoch = 0;
};

// -- service -------------------------------------------------------------------------------

std::optional<std::uint32_t> home_of_name(std::string_view name) {
  auto lowered = normalize_name(name);
  if (!lowered)
    return std::nullopt;
  return cluster::partition_of_name(*lowered);
}

std::uint32_t home_of_user(std::uint64_t id) noexcept {
  return cluster::partition_of(id);
}

std::optional<std::uint32_t> home_of_token(std::string_view token) {
  if (!token_well_formed(token))
    return std::nullopt;
  unsigned char raw[32];
  size_t len = 0;
  if (sodium_base642bin(raw, sizeof raw, token.data(), token.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || len != sizeof raw)
    return std::nullopt;
  return raw[0];
}

std::string session_id(std::string_view token) {
  if (!token_well_formed(token))
    return {};
  return id_of_hash(hash_token(token));
}

std::uint64_t session_key(std::string_view token) {
  return key_of_hash(hash_token(token));
}

service::service(storage::store& db, std::function<std::uint64_t()> next_id, options opts,
                 std::function<std::uint64_t()> now_ms)
  : db_(db),
    next_id_(std::move(next_id)),
    opts_(opts),
    now_ms_(std::move(now_ms)),
    cache_(std::make_unique<token_cache>(opts.max_cached_tokens)) {
  static const int init = sodium_init(); // thread-safe, once per process
  if (init < 0)
    throw std::runtime_error("sodium_init failed");
  if (opts_.opslimit < crypto_pwhash_OPSLIMIT_MIN || opts_.opslimit > crypto_pwhash_OPSLIMIT_MAX
      || opts_.memlimit < crypto_pwhash_MEMLIMIT_MIN
      || opts_.memlimit > crypto_pwhash_MEMLIMIT_MAX)
    throw std::invalid_argument("accounts::options: argon2id limits out of range");
  if (!next_id_ || !now_ms_)
    throw std::invalid_argument("accounts::service: next_id and now_ms are required");
  // A hash of a random password with the configured cost: log_in verifies against it for
  // unknown names so that they take as long as a wrong password.
  std::array<unsigned char, 32> random_pw;
  randombytes_buf(random_pw.data(), random_pw.size());
  dummy_hash_ = hash_password(
    std::string_view{reinterpret_cast<const char*>(random_pw.data()), random_pw.size()}, opts_);
  if (dummy_hash_.empty())
    throw std::runtime_error("accounts::service: argon2id hashing failed (out of memory?)");
}

service::~service() = default;

void service::forget_cached_sessions() { cache_->clear(); }

std::size_t service::cached_tokens() const {
  return cache_->size();
}

result<user> service::sign_up(std::string_view name, std::string_view password,
                              std::string_view display_name) {
  auto lowered = normalize_name(name);
  if (!lowered)
    return error{errc::bad_name, "user name must be 1-32 characters of a-z, 0-9, '_', '.', '-'"};
  if (!password_length_ok(password))
    return error{errc::bad_password, "password must be 8-256 bytes"};
  if (display_name.empty())
    display_name = name;
  if (!display_name_ok(display_name))
    return error{errc::bad_name,
                 "display name must be 1-64 bytes of UTF-8 without control, invisible or "
                 "direction-override characters, nor spaces at either end"};
  // Cheap early answer before spending a hash; the claim below is what decides.
  auto existing = lookup_name(db_, *lowered);
  if (!existing)
    return existing.error();
  if (existing->has_value())
    return error{errc::name_taken, "user name is taken"};

  user_record rec;
  rec.hash = hash_password(password, opts_);
  if (rec.hash.empty())
    return error{errc::storage, "password hashing failed (out of memory?)"};
  // Draw ids until one falls in the name's partition (1 in 256; ids are cheap and nothing
  // waits on them), so the user's rows share one home (see the header).
  auto home = cluster::partition_of_name(*lowered);
  rec.who.id = next_id_();
  for (int tries = 1; tries < max_id_draws && cluster::partition_of(rec.who.id) != home; ++tries)
    rec.who.id = next_id_();
  if (rec.who.id == 0 || cluster::partition_of(rec.who.id) != home)
    return error{errc::storage, "could not draw a user id in the name's partition"};
  rec.who.name = *lowered;
  rec.who.display_name = std::string{display_name};
  rec.who.created_ms = now_ms_();

  // Record first, name claim second (synced, which also makes the record durable): a crash
  // in between leaves an unreachable record, never a name without a user.
  auto ukey = user_key(rec.who.id);
  if (auto st = db_.put_record(table::user_accounts, ukey, encode_record(rec), false); !st.ok())
    return storage_error(st);
  std::string id_value;
  storage::keys::put_be64(id_value, rec.who.id);
  auto claimed = db_.put_record_if_absent(table::user_names, name_key(*lowered), id_value);
  if (!claimed || !*claimed) {
    // Best effort; the record is unreachable anyway.
    (void) db_.delete_record(table::user_accounts, ukey, false);
    if (!claimed)
      return storage_error(claimed.error());
    return error{errc::name_taken, "user name is taken"};
  }
  return std::move(rec.who);
}

result<session> service::log_in(std::string_view name, std::string_view password) {
  if (password.size() > max_login_password_bytes)
    return error{errc::bad_password,
                 "password longer than " + std::to_string(max_login_password_bytes) + " bytes"};
  std::optional<user_record> rec;
  if (auto lowered = normalize_name(name)) {
    auto id = lookup_name(db_, *lowered);
    if (!id)
      return id.error();
    if (id->has_value()) {
      auto r = load_record(db_, **id);
      if (!r && r.code() != errc::not_found)
        return r.error();
      if (r)
        rec = std::move(*r);
    }
  }
  // The account's backoff first: an attempt it does not take costs no hash.
  login_failures failures;
  if (rec) {
    auto f = load_failures(db_, rec->who.id);
    if (!f)
      return f.error();
    failures = *f;
    if (auto wait = backoff_wait_ms(opts_, failures, now_ms_()); wait > 0)
      return backoff_error(wait);
  }
  // Always exactly one verification, against the dummy hash when the user is unknown, so
  // unknown names cost as much as wrong passwords.
  bool ok = verify_password(rec ? rec->hash : dummy_hash_, password) && rec
            && password_length_ok(password);
  if (!ok) {
    if (rec && opts_.free_login_failures > 0) {
      // Counted under a lock (two hashing threads may fail the same account at once), and
      // re-read there so neither failure is lost. Unsynced: the WAL survives a restart.
      std::lock_guard lock{failures_mutex_};
      auto f = load_failures(db_, rec->who.id);
      if (!f)
        return f.error();
      std::string value;
      storage::keys::put_be64(value, f->count + 1);
      storage::keys::put_be64(value, now_ms_());
      if (auto st = db_.put_record(table::user_accounts,
                                   storage::schema::login_failures_key(rec->who.id), value,
                                   false);
          !st.ok())
        return storage_error(st);
    }
    return error{errc::invalid_credentials, credentials_message};
  }
  if (failures.count > 0) {
    std::lock_guard lock{failures_mutex_};
    if (auto st = db_.delete_record(table::user_accounts,
                                    storage::schema::login_failures_key(rec->who.id), false);
        !st.ok())
      return storage_error(st);
  }

  std::array<unsigned char, 32> raw;
  randombytes_buf(raw.data(), raw.size());
  raw[0] = static_cast<unsigned char>(cluster::partition_of(rec->who.id)); // its home
  char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
  sodium_bin2base64(b64, sizeof b64, raw.data(), raw.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw.data(), raw.size());
  session s;
  s.token.assign(b64, token_chars);
  sodium_memzero(b64, sizeof b64);
  s.expires_ms = saturating_add(now_ms_(), opts_.token_ttl_ms);
  s.who = std::move(rec->who);

  auto h = hash_token(s.token);
  auto now = now_ms_();
  std::string value;
  storage::keys::put_be64(value, s.who.id);
  storage::keys::put_be64(value, s.expires_ms);
  const std::array<storage::record_op, 2> ops{{
    {table::sessions, token_key(h), std::move(value)},
    {table::user_accounts, storage::schema::session_index_key(s.who.id, h),
     index_value(now, s.expires_ms)},
  }};
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  // A fresh random token cannot have been revoked yet: cache it regardless of the epoch.
  cache_->insert(h, {s.who.id, s.expires_ms}, std::nullopt);
  if (opts_.max_sessions_per_user > 0)
    s.ended = end_oldest_sessions(s.who.id, h, now);
  return s;
}

std::vector<std::uint64_t> service::end_oldest_sessions(std::uint64_t user,
                                                        const std::array<unsigned char, 32>& keep,
                                                        std::uint64_t now) {
  auto index = load_index(db_, user, index_page);
  if (!index)
    return {}; // the new session stands; the next log-in tries again
  std::vector<index_entry> live;
  std::vector<storage::record_op> ops;
  for (auto& e : *index) {
    if (e.expires_ms <= now)
      end_session_ops(ops, user, e.hash); // dead: tidy it away
    else if (e.hash != keep)
      live.push_back(e);
  }
  std::vector<std::uint64_t> ended;
  auto room = opts_.max_sessions_per_user - 1; // the new one takes a place
  if (live.size() > room) {
    std::sort(live.begin(), live.end(), [](const index_entry& a, const index_entry& b) {
      return a.created_ms != b.created_ms ? a.created_ms < b.created_ms : a.hash < b.hash;
    });
    for (std::size_t i = 0; i < live.size() - room; ++i) {
      end_session_ops(ops, user, live[i].hash);
      ended.push_back(key_of_hash(live[i].hash));
    }
  }
  if (ops.empty())
    return ended;
  // Synced when it ends live sessions: a restart must not bring one back.
  if (auto st = db_.write_records(ops, !ended.empty() && db_.options().sync); !st.ok())
    return {};
  for (std::size_t i = 0; i < ops.size(); i += 2) {
    token_hash h;
    std::memcpy(h.data(), ops[i].key.data(), h.size());
    cache_->evict(h, true); // after the delete: see the epoch note at the top
  }
  return ended;
}

result<user> service::authenticate(std::string_view token) {
  if (!token_well_formed(token))
    return error{errc::invalid_token, token_message};
  auto h = hash_token(token);
  auto now = now_ms_();
  std::uint64_t epoch = 0;
  auto cached = cache_->lookup(h, epoch);
  if (!cached) {
    auto raw = db_.get_record(table::sessions, token_key(h));
    if (!raw)
      return storage_error(raw.error());
    if (!raw->has_value())
      return error{errc::invalid_token, token_message};
    auto v = storage::keys::decode_pair(**raw);
    if (!v)
      return error{errc::storage, "corrupt session entry"};
    cached = token_cache::entry{v->first, v->second};
    if (cached->expires_ms > now)
      cache_->insert(h, *cached, epoch);
  }
  if (cached->expires_ms <= now) {
    // Expired: forget it (unsynced; losing this delete only leaves a dead entry).
    std::vector<storage::record_op> ops;
    end_session_ops(ops, cached->user_id, h);
    (void) db_.write_records(ops, false);
    cache_->evict(h, true);
    return error{errc::invalid_token, token_message};
  }
  auto rec = load_record(db_, cached->user_id);
  if (!rec) {
    if (rec.code() == errc::not_found)
      return error{errc::invalid_token, token_message};
    return rec.error();
  }
  return std::move(rec->who);
}

result<bool> service::log_out(std::string_view token) {
  if (!token_well_formed(token))
    return error{errc::invalid_token, token_message};
  auto h = hash_token(token);
  auto key = token_key(h);
  auto raw = db_.get_record(table::sessions, key);
  if (!raw)
    return storage_error(raw.error());
  if (!raw->has_value()) {
    cache_->evict(h, true);
    return error{errc::invalid_token, token_message};
  }
  std::vector<storage::record_op> ops;
  if (auto v = storage::keys::decode_pair(**raw))
    end_session_ops(ops, v->first, h);
  else
    ops.push_back({table::sessions, key, std::nullopt});
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  cache_->evict(h, true); // after the delete: see the epoch note at the top
  return true;
}

result<std::vector<session_info>> service::sessions_of(std::uint64_t user) const {
  auto index = load_index(db_, user, index_page);
  if (!index)
    return index.error();
  auto now = now_ms_();
  std::vector<session_info> out;
  for (auto& e : *index)
    if (e.expires_ms > now)
      out.push_back({id_of_hash(e.hash), e.created_ms, e.expires_ms});
  std::sort(out.begin(), out.end(), [](const session_info& a, const session_info& b) {
    return a.created_ms != b.created_ms ? a.created_ms > b.created_ms : a.id < b.id;
  });
  auto most = opts_.max_sessions_per_user > 0 ? opts_.max_sessions_per_user : 1000;
  if (out.size() > most)
    out.resize(most);
  return out;
}

result<std::vector<std::uint64_t>> service::revoke_sessions(std::uint64_t user,
                                                            std::string_view only,
                                                            std::string_view keep) {
  auto index = load_index(db_, user, index_page);
  if (!index)
    return index.error();
  std::vector<storage::record_op> ops;
  std::vector<token_hash> gone;
  std::vector<std::uint64_t> keys;
  auto now = now_ms_();
  for (auto& e : *index) {
    auto id = id_of_hash(e.hash);
    if ((!only.empty() && id != only) || id == keep)
      continue;
    end_session_ops(ops, user, e.hash);
    gone.push_back(e.hash);
    if (e.expires_ms > now)
      keys.push_back(key_of_hash(e.hash));
  }
  if (!only.empty() && keys.empty())
    return error{errc::not_found, "no such session"};
  if (ops.empty())
    return keys;
  if (auto st = db_.write_records(ops, db_.options().sync); !st.ok())
    return storage_error(st);
  for (auto& h : gone)
    cache_->evict(h, true); // after the delete: see the epoch note at the top
  return keys;
}

result<std::string> service::sweep_expired_tokens(std::string_view after,
                                                  std::size_t max_entries,
                                                  std::size_t& deleted) {
  auto page = db_.scan_records(table::sessions, "", after, max_entries);
  if (!page)
    return storage_error(page.error());
  auto now = now_ms_();
  std::vector<storage::record_op> gone;
  std::size_t expired = 0;
  for (auto& [key, value] : *page) {
    auto v = storage::keys::decode_pair(value);
    if (!v || key.size() != crypto_hash_sha256_BYTES)
      continue;
    token_hash h;
    std::memcpy(h.data(), key.data(), h.size());
    if (v->second <= now) {
      end_session_ops(gone, v->first, h);
      ++expired;
      continue;
    }
    // A session from before the index: give it its row (created = its log-in, from the TTL).
    auto ikey = storage::schema::session_index_key(v->first, h);
    auto has = db_.get_record(table::user_accounts, ikey);
    if (has && !has->has_value()) {
      auto created = v->second > opts_.token_ttl_ms ? v->second - opts_.token_ttl_ms : 0;
      gone.push_back({table::user_accounts, std::move(ikey), index_value(created, v->second)});
    }
  }
  if (!gone.empty()) {
    // Unsynced: a lost delete only leaves a dead entry for the next sweep.
    if (auto st = db_.write_records(gone, false); !st.ok())
      return storage_error(st);
    deleted += expired;
  }
  if (page->size() < max_entries)
    return std::string{};
  return page->back().first;
}

result<std::uint64_t> service::login_wait_ms(std::string_view name) const {
  auto lowered = normalize_name(name);
  if (!lowered)
    return std::uint64_t{0};
  auto id = lookup_name(db_, *lowered);
  if (!id)
    return id.error();
  if (!id->has_value())
    return std::uint64_t{0};
  auto f = load_failures(db_, **id);
  if (!f)
    return f.error();
  return backoff_wait_ms(opts_, *f, now_ms_());
}

result<user> service::get(std::uint64_t id) const {
  auto rec = load_record(db_, id);
  if (!rec)
    return rec.error();
  return std::move(rec->who);
}

result<user> service::find(std::string_view name) const {
  auto lowered = normalize_name(name);
  if (!lowered)
    return error{errc::not_found, "no such user"};
  auto id = lookup_name(db_, *lowered);
  if (!id)
    return id.error();
  if (!id->has_value())
    return error{errc::not_found, "no such user"};
  return get(**id);
}

} // namespace sb::accounts
