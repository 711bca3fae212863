#include "protocol/json_writer.hpp"

#include <charconv>

#include "protocol/utf8.hpp"

namespace sb::protocol {

namespace {

// 0 = emit as-is; 1 = needs escaping; 2 = non-ASCII lead (validate).
constexpr unsigned char classify(unsigned char c) noexcept {
  if (c < 0x20 || c == '"' || c == '\\') return 1;
  if (c >= 0x80) return 2;
  return 0;
}

void append_escape(std::string& out, unsigned char c) {
  switch (c) {
    case '"': out += "\\\""; return;
    case '\\': out += "\\\\"; return;
    case '\n': out += "\\n"; return;
    case '\r': out += "\\r"; return;
    case '\t': out += "\\t"; return;
    case '\b': out += "\\b"; return;
    case '\f': out += "\\f"; return;
    default: {
      static constexpr char hex[] = "0123456789abcdef";
      const char buf[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
      out.append(buf, 6);
    }
  }
}

} // namespace

void append_json_string(std::string& out, std::string_view s) {
  out.reserve(out.size() + s.size() + 2);
  out.push_back('"');
  std::size_t run = 0; // start of the pending run of bytes to copy as-is
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const unsigned char cls = classify(c);
    if (cls == 0) {
      ++i;
    } else if (cls == 2) {
      const std::size_t n = utf8_sequence_length(s.substr(i));
      if (n != 0) {
        i += n;
      } else {
        out.append(s.data() + run, i - run);
        out += "\\ufffd";
        run = ++i;
      }
    } else {
      out.append(s.data() + run, i - run);
      append_escape(out, c);
      run = ++i;
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

json_writer& json_writer::begin_object() {
  sep();
  out_->push_back('{');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::end_object() {
  out_->push_back('}');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::begin_array() {
  sep();
  out_->push_back('[');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::end_array() {
  out_->push_back(']');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::key(std::string_view k) {
  sep();
  append_json_string(*out_, k);
  out_->push_back(':');
  need_comma_ = false;
  return *this;
}

json_writer& json_writer::string(std::string_view v) {
  sep();
  append_json_string(*out_, v);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::uint(std::uint64_t v) {
  sep();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out_->append(buf, end);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::sint(std::int64_t v) {
  sep();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out_->append(buf, end);
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::boolean(bool v) {
  sep();
  *out_ += v ? "true" : "false";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::null() {
  sep();
  *out_ += "null";
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::id(std::uint64_t v) {
  sep();
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  out_->push_back('"');
  out_->append(buf, end);
  out_->push_back('"');
  need_comma_ = true;
  return *this;
}

json_writer& json_writer::raw(std::string_view json) {
  sep();
  out_->append(json);
  need_comma_ = true;
  return *this;
}

} // namespace sb::protocol
