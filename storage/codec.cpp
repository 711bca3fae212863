// Binary codec of `event` (format in event.hpp). Decoding treats input as hostile: every
// read is bounds-checked and every length is capped before anything is allocated.
#include "storage/event.hpp"

#include <charconv>

namespace sb::storage {

const char* to_string(event_kind kind) noexcept {
  switch (kind) {
    case event_kind::message: return "message";
    case event_kind::edit: return "edit";
    case event_kind::remove: return "remove";
    case event_kind::reaction_add: return "reaction_add";
    case event_kind::reaction_remove: return "reaction_remove";
    case event_kind::member_join: return "member_join";
    case event_kind::member_leave: return "member_leave";
    case event_kind::channel_created: return "channel_created";
    case event_kind::channel_updated: return "channel_updated";
    case event_kind::pin: return "pin";
    case event_kind::unpin: return "unpin";
  }
  return "unknown";
}

namespace {

bool valid_kind(std::uint64_t k) {
  return k >= min_event_kind && k <= max_event_kind;
}

bool needs_target(event_kind k) {
  switch (k) {
    case event_kind::edit:
    case event_kind::remove:
    case event_kind::reaction_add:
    case event_kind::reaction_remove:
    case event_kind::pin:
    case event_kind::unpin: return true;
    default: return false;
  }
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_string(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

/// Cursor over untrusted bytes; the first error sticks and later reads become no-ops.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}

  std::uint64_t varint(const char* field) {
    std::uint64_t v = 0;
    for (unsigned i = 0; i < 10; ++i) {
      if (!err_.ok())
        return 0;
      if (pos_ >= in_.size()) {
        fail(errc::truncated, field);
        return 0;
      }
      auto byte = static_cast<unsigned char>(in_[pos_++]);
      // The 10th byte may only contribute the single remaining bit (64 = 9*7 + 1).
      if (i == 9 && byte > 1) {
        fail(errc::bad_varint, field);
        return 0;
      }
      v |= std::uint64_t{byte & 0x7fu} << (7 * i);
      if ((byte & 0x80) == 0)
        return v;
    }
    fail(errc::bad_varint, field);
    return 0;
  }

  std::string string(const char* field, std::size_t cap) {
    auto len = varint(field);
    if (!err_.ok())
      return {};
    if (len > cap) {
      fail(errc::length_overflow, field);
      return {};
    }
    if (len > in_.size() - pos_) {
      fail(errc::truncated, field);
      return {};
    }
    std::string s{in_.substr(pos_, static_cast<std::size_t>(len))};
    pos_ += static_cast<std::size_t>(len);
    return s;
  }

  void fail(errc code, const char* field) {
    if (err_.ok())
      err_ = status{code, std::string{"event field '"} + field + "' at byte "
                            + std::to_string(pos_)};
  }

  bool at_end() const { return pos_ == in_.size(); }
  const status& error() const { return err_; }

private:
  std::string_view in_;
  std::size_t pos_ = 1; // byte 0 is the version, checked by the caller
  status err_;
};

} // namespace

std::vector<std::uint64_t> parse_member_list(std::string_view text) {
  std::vector<std::uint64_t> out;
  while (!text.empty()) {
    auto comma = text.find(',');
    auto part = text.substr(0, comma);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (ec != std::errc{} || p != part.data() + part.size() || v == 0)
      return {};
    out.push_back(v);
    if (comma == std::string_view::npos)
      break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

status validate(const event& e) {
  auto bad = [](std::string what) { return status{errc::invalid_argument, std::move(what)}; };
  if (!valid_kind(static_cast<std::uint8_t>(e.kind)))
    return bad("unknown event kind");
  if (e.seq == 0)
    return bad("seq must be >= 1");
  if (e.text.size() > max_text_bytes)
    return bad("text longer than " + std::to_string(max_text_bytes) + " bytes");
  if (e.emoji.size() > max_emoji_bytes)
    return bad("emoji longer than " + std::to_string(max_emoji_bytes) + " bytes");
  if (e.nonce.size() > max_nonce_bytes)
    return bad("nonce longer than " + std::to_string(max_nonce_bytes) + " bytes");
  if (e.channel_kind.size() > max_label_bytes || e.attribute.size() > max_label_bytes)
    return bad("channel kind or attribute longer than " + std::to_string(max_label_bytes)
               + " bytes");
  if (needs_target(e.kind) && (e.target_seq == 0 || e.target_seq >= e.seq))
    return bad(std::string{to_string(e.kind)} + " needs 0 < target_seq < seq");
  if (e.thread_root != 0 && (e.kind != event_kind::message || e.thread_root >= e.seq))
    return bad("thread_root only on messages, and must be < seq");
  if ((e.kind == event_kind::reaction_add || e.kind == event_kind::reaction_remove)
      && e.emoji.empty())
    return bad("reaction without emoji");
  if ((e.edited_ms != 0 || e.last_edit != 0) && e.kind != event_kind::message)
    return bad("edited_ms and last_edit only on messages");
  if (e.last_edit != 0 && e.last_edit <= e.seq)
    return bad("last_edit must be > seq");
  if (e.redacted_by != 0) {
    if (e.kind != event_kind::message && e.kind != event_kind::edit)
      return bad("only messages and edits are redacted");
    if (e.redacted_by <= e.seq)
      return bad("redacted_by must be > seq");
    if (!e.text.empty())
      return bad("a redacted row has no text");
  } else if (e.redacted_ms != 0 || e.redactor != 0) {
    return bad("redacted_ms and redactor need redacted_by");
  }
  if (e.kind == event_kind::channel_created && e.channel_kind.empty())
    return bad("channel_created without a channel kind");
  if (e.kind == event_kind::channel_updated) {
    if (e.attribute == channel_attr_name) {
      if (e.text.empty() || e.text.size() > max_channel_name_bytes)
        return bad("channel name must be 1..80 bytes");
    } else if (e.attribute == channel_attr_topic) {
      if (e.text.size() > max_channel_topic_bytes)
        return bad("channel topic longer than 1000 bytes");
    } else if (e.attribute == channel_attr_archived) {
      if (e.text != "0" && e.text != "1")
        return bad("archived must be \"0\" or \"1\"");
    } else {
      return bad("channel_updated needs an attribute: name, topic or archived");
    }
  }
  return {};
}

std::string encode(const event& e) {
  std::string out;
  out.reserve(1 + 14 * 10 + 5 + e.text.size() + e.emoji.size() + e.nonce.size()
              + e.channel_kind.size() + e.attribute.size());
  out.push_back(static_cast<char>(event_format_version));
  put_varint(out, static_cast<std::uint8_t>(e.kind));
  put_varint(out, e.channel_id);
  put_varint(out, e.seq);
  put_varint(out, e.id);
  put_varint(out, e.author);
  put_varint(out, e.time_ms);
  put_varint(out, e.target_seq);
  put_varint(out, e.thread_root);
  put_varint(out, e.subject);
  put_string(out, e.text);
  put_string(out, e.emoji);
  put_string(out, e.nonce);
  put_string(out, e.channel_kind);
  put_string(out, e.attribute);
  put_varint(out, e.edited_ms);
  put_varint(out, e.last_edit);
  put_varint(out, e.redacted_by);
  put_varint(out, e.redacted_ms);
  put_varint(out, e.redactor);
  return out;
}

result<event> decode(std::string_view bytes) {
  if (bytes.empty())
    return status{errc::truncated, "empty event record"};
  auto version = static_cast<unsigned char>(bytes[0]);
  if (version < 1 || version > event_format_version)
    return status{errc::unknown_version, "event format version "
                                           + std::to_string(version) + ", supported 1.."
                                           + std::to_string(event_format_version)};
  reader r{bytes};
  event e;
  auto kind = r.varint("kind");
  if (r.error().ok() && !valid_kind(kind))
    r.fail(errc::bad_kind, "kind");
  e.kind = static_cast<event_kind>(r.error().ok() ? kind : min_event_kind);
  e.channel_id = r.varint("channel_id");
  e.seq = r.varint("seq");
  e.id = r.varint("id");
  e.author = r.varint("author");
  e.time_ms = r.varint("time_ms");
  e.target_seq = r.varint("target_seq");
  e.thread_root = r.varint("thread_root");
  e.subject = r.varint("subject");
  e.text = r.string("text", max_text_bytes);
  e.emoji = r.string("emoji", max_emoji_bytes);
  e.nonce = r.string("nonce", max_nonce_bytes);
  if (version == 1) {
    // Version 1 had one string for three meanings, told apart by the kind.
    if (e.kind == event_kind::channel_created)
      e.channel_kind = std::move(e.emoji);
    else if (e.kind == event_kind::channel_updated)
      e.attribute = std::move(e.emoji);
    if (e.kind == event_kind::channel_created || e.kind == event_kind::channel_updated)
      e.emoji.clear();
  } else {
    e.channel_kind = r.string("channel_kind", max_label_bytes);
    e.attribute = r.string("attribute", max_label_bytes);
  }
  if (version >= 3) {
    e.edited_ms = r.varint("edited_ms");
    e.last_edit = r.varint("last_edit");
    e.redacted_by = r.varint("redacted_by");
    e.redacted_ms = r.varint("redacted_ms");
    e.redactor = r.varint("redactor");
  }
  if (r.error().ok() && !r.at_end())
    r.fail(errc::trailing_bytes, "end");
  if (!r.error().ok())
    return r.error();
  return e;
}

namespace {

/// `row` with its text gone because of `by` (a later edit, or the removal).
event redacted(event row, const event& by) {
  row.text.clear();
  row.redacted_by = by.seq;
  row.redacted_ms = by.time_ms;
  row.redactor = by.author;
  return row;
}

} // namespace

result<std::vector<event>> rewrites_of(const event& e, const rewrite_rows& rows) {
  auto bad = [&](const char* what) {
    return status{errc::invalid_argument, std::string{to_string(e.kind)} + " of channel "
                                            + std::to_string(e.channel_id) + " seq "
                                            + std::to_string(e.target_seq) + ": " + what};
  };
  if (!rewrites_rows(e.kind))
    return bad("rewrites no rows");
  const auto& t = rows.target;
  if (!t || t->kind != event_kind::message || t->channel_id != e.channel_id
      || t->seq != e.target_seq || t->seq >= e.seq)
    return bad("needs the row of its target message");
  if (t->deleted())
    return bad("the message is deleted");
  const auto& le = rows.last_edit;
  if (le && (le->kind != event_kind::edit || le->channel_id != e.channel_id
             || le->target_seq != e.target_seq || le->seq >= e.seq || le->seq != t->last_edit))
    return bad("last_edit is not the message's latest edit");
  if (!le && t->last_edit != 0)
    return bad("needs the row of the message's latest edit");
  std::vector<event> out;
  if (e.kind == event_kind::edit) {
    event msg = *t;
    msg.text = e.text;
    msg.edited_ms = e.time_ms;
    msg.last_edit = e.seq;
    out.push_back(std::move(msg));
  } else {
    out.push_back(redacted(*t, e));
  }
  if (le && le->redacted_by == 0)
    out.push_back(redacted(*le, e));
  return out;
}

rewrite_rows rows_after(const rewrite_rows& rows, const event& e) {
  auto r = rewrites_of(e, rows);
  if (!r)
    return rows;
  rewrite_rows out;
  out.target = (*r)[0];
  if (e.kind == event_kind::edit)
    out.last_edit = e;
  else
    out.last_edit = r->size() > 1 ? std::optional<event>{(*r)[1]} : rows.last_edit;
  return out;
}

} // namespace sb::storage
