// Key layouts of the event-side column families (the record tables' keys are built in
// schema.hpp from these): big-endian fixed-width integers, so RocksDB's bytewise (memcmp)
// order equals numeric order and one channel's history, one channel's members or one
// user's channels are each a single contiguous range.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace sb::storage::keys {

/// Appends `v` as 8 big-endian bytes.
inline void put_be64(std::string& out, std::uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.append(buf, 8);
}

/// Reads 8 big-endian bytes at `p` (caller guarantees 8 readable bytes).
inline std::uint64_t get_be64(const char* p) noexcept {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

/// 8-byte key of a single id: `channels` (channel) and `users` (user).
inline std::string id_key(std::uint64_t id) {
  std::string k;
  k.reserve(8);
  put_be64(k, id);
  return k;
}

/// 16-byte key `be64(a) | be64(b)`, the shape shared by most column families.
inline std::string pair_key(std::uint64_t a, std::uint64_t b) {
  std::string k;
  k.reserve(16);
  put_be64(k, a);
  put_be64(k, b);
  return k;
}

/// `events`: channel | seq.
inline std::string event_key(std::uint64_t channel, std::uint64_t seq) {
  return pair_key(channel, seq);
}
/// `members`: channel | user.
inline std::string member_key(std::uint64_t channel, std::uint64_t user) {
  return pair_key(channel, user);
}
/// `user_channels`: user | channel.
inline std::string user_channel_key(std::uint64_t user, std::uint64_t channel) {
  return pair_key(user, channel);
}
/// `read_state`: user | channel.
inline std::string read_state_key(std::uint64_t user, std::uint64_t channel) {
  return pair_key(user, channel);
}
/// `threads`: channel | root seq.
inline std::string thread_key(std::uint64_t channel, std::uint64_t root_seq) {
  return pair_key(channel, root_seq);
}
/// `threads` reply index: channel | root seq | reply seq (24 bytes; the 16-byte key of the
/// same root holds its counter).
inline std::string thread_reply_key(std::uint64_t channel, std::uint64_t root_seq,
                                    std::uint64_t reply_seq) {
  std::string k = pair_key(channel, root_seq);
  put_be64(k, reply_seq);
  return k;
}
/// `channels` attribute record: channel | attribute name (the 8-byte key holds the
/// channel_created event).
inline std::string channel_attr_key(std::uint64_t channel, std::string_view attr) {
  std::string k = id_key(channel);
  k.append(attr);
  return k;
}
/// `idempotency`: channel | author | nonce bytes (nonce is last, so it may have any length).
inline std::string idempotency_key(std::uint64_t channel, std::uint64_t author,
                                   std::string_view nonce) {
  std::string k;
  k.reserve(16 + nonce.size());
  put_be64(k, channel);
  put_be64(k, author);
  k.append(nonce);
  return k;
}

/// `read_state` cursor of a followed thread: user | channel | root (24 bytes; the 16-byte
/// key of the same user and channel is the channel cursor).
inline std::string thread_read_key(std::uint64_t user, std::uint64_t channel,
                                   std::uint64_t root_seq) {
  std::string k = pair_key(user, channel);
  put_be64(k, root_seq);
  return k;
}

/// Tags of the `unread` column family's key kinds (first byte of every key).
namespace unread_tag {
inline constexpr char ordinal = 'm';       ///< channel | seq -> be64(top-level ordinal)
inline constexpr char removed = 'x';       ///< channel | seq: a removed top-level message
inline constexpr char removed_reply = 'y'; ///< channel | root | seq: a removed reply
inline constexpr char mention = 'p';       ///< user | channel | seq: `<@user>` in a message
inline constexpr char everyone = 'a';      ///< channel | seq -> be64(author): @here/@channel
inline constexpr char follow = 'f';        ///< user | channel | root: the user follows it
} // namespace unread_tag

/// An `unread` key: tag, then the given ids as be64.
inline std::string unread_key(char tag, std::initializer_list<std::uint64_t> ids) {
  std::string k;
  k.reserve(1 + 8 * ids.size());
  k.push_back(tag);
  for (auto id : ids)
    put_be64(k, id);
  return k;
}

/// `reactions` key: be64(channel) | be64(seq) | be64(user) | emoji bytes.
inline std::string reaction_key(std::uint64_t channel, std::uint64_t seq, std::uint64_t user,
                                std::string_view emoji) {
  std::string k;
  k.reserve(24 + emoji.size());
  put_be64(k, channel);
  put_be64(k, seq);
  put_be64(k, user);
  k.append(emoji);
  return k;
}

/// Exclusive upper bound past every 16-byte key whose first 8 bytes are `be64(first)`:
/// `be64(first) | ff*8 | 00`. Unlike `pair_key(first + 1, 0)` it cannot overflow.
inline std::string scan_end(std::uint64_t first) {
  std::string k = id_key(first);
  k.append(8, '\xff');
  k.push_back('\0');
  return k;
}

/// Both halves of a 16-byte pair key.
struct pair {
  std::uint64_t first = 0;
  std::uint64_t second = 0;
};

/// Decodes a 16-byte pair key; nullopt when the size is wrong.
inline std::optional<pair> decode_pair(std::string_view key) noexcept {
  if (key.size() != 16)
    return std::nullopt;
  return pair{get_be64(key.data()), get_be64(key.data() + 8)};
}

/// Decodes an 8-byte id key or value; nullopt when the size is wrong.
inline std::optional<std::uint64_t> decode_id(std::string_view bytes) noexcept {
  if (bytes.size() != 8)
    return std::nullopt;
  return get_be64(bytes.data());
}

} // namespace sb::storage::keys
