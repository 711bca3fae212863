// Fuzzes the WebSocket frame parser (protocol/parse.cpp). Properties: it never throws or
// crashes; a refusal carries one of the documented codes; an accepted op keeps the
// contracts its struct documents (ids non-zero, texts valid UTF-8 within the caps, resume
// sorted without duplicates, history limits in range); `parse_id` accepts only canonical
// decimals.
#include <algorithm>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_check.hpp"
#include "protocol/client_op.hpp"
#include "protocol/utf8.hpp"

using namespace sb::protocol;

namespace {

const std::set<std::string_view> documented_codes = {
  errc::bad_json,   errc::missing_op, errc::unknown_op,    errc::missing_field,
  errc::wrong_type, errc::bad_value,  errc::text_too_long, errc::empty_text,
  errc::bad_utf8,   errc::nonce_too_long, errc::too_many_resume_entries};

void check_text(const std::string& text) {
  const auto n = utf8_length(text);
  SB_FUZZ_CHECK(n.has_value());
  SB_FUZZ_CHECK(*n >= 1 && *n <= max_message_chars);
}

struct op_checker {
  void operator()(const identify_op& op) const {
    SB_FUZZ_CHECK(!op.token.empty());
    SB_FUZZ_CHECK(op.resume.size() <= 1000);
    for (size_t i = 0; i < op.resume.size(); ++i) {
      SB_FUZZ_CHECK(op.resume[i].channel != 0);
      if (i > 0)
        SB_FUZZ_CHECK(op.resume[i - 1].channel < op.resume[i].channel);
    }
  }
  void operator()(const heartbeat_op&) const {}
  void operator()(const send_op& op) const {
    SB_FUZZ_CHECK(op.channel != 0);
    check_text(op.text);
    SB_FUZZ_CHECK(op.nonce.size() <= max_nonce_bytes);
  }
  void operator()(const edit_op& op) const {
    SB_FUZZ_CHECK(op.channel != 0 && op.seq != 0);
    check_text(op.text);
  }
  void operator()(const delete_op& op) const { SB_FUZZ_CHECK(op.channel != 0 && op.seq != 0); }
  void operator()(const react_op& op) const {
    SB_FUZZ_CHECK(op.channel != 0 && op.seq != 0);
    SB_FUZZ_CHECK(!op.emoji.empty() && op.emoji.size() <= max_emoji_bytes);
    SB_FUZZ_CHECK(utf8_length(op.emoji).has_value());
  }
  void operator()(const history_op& op) const {
    SB_FUZZ_CHECK(op.channel != 0);
    SB_FUZZ_CHECK(op.limit >= 1 && op.limit <= 200);
    if (op.anchor == history_anchor::before || op.anchor == history_anchor::around)
      SB_FUZZ_CHECK(op.seq != 0);
  }
  void operator()(const subscribe_op& op) const { SB_FUZZ_CHECK(op.channel != 0); }
  void operator()(const unsubscribe_op& op) const { SB_FUZZ_CHECK(op.channel != 0); }
  void operator()(const mark_read_op& op) const { SB_FUZZ_CHECK(op.channel != 0); }
  void operator()(const typing_op& op) const { SB_FUZZ_CHECK(op.channel != 0); }
  void operator()(const presence_op& op) const {
    SB_FUZZ_CHECK(op.status == "online" || op.status == "away" || op.status == "dnd");
    if (op.custom) {
      const auto n = utf8_length(*op.custom);
      SB_FUZZ_CHECK(n && *n <= max_custom_status_chars);
    }
  }
  void operator()(const activity_op&) const {}
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_client_frame(frame);
  if (const auto* err = std::get_if<protocol_error>(&parsed)) {
    SB_FUZZ_CHECK(documented_codes.count(err->code) == 1);
    SB_FUZZ_CHECK(!err->message.empty());
    // The echoed req is the client's own JSON value, re-encoded: valid UTF-8, bounded.
    SB_FUZZ_CHECK(utf8_length(err->req_json).has_value());
    SB_FUZZ_CHECK(err->req_json.size() <= 6 * max_req_chars + 2);
  } else {
    const auto& op = std::get<client_op>(parsed);
    SB_FUZZ_CHECK(!op_name(op).empty());
    SB_FUZZ_CHECK(utf8_length(req_json_of(op)).has_value());
    std::visit(op_checker{}, op);
  }
  if (size <= 24) {
    if (const auto id = parse_id(frame)) {
      SB_FUZZ_CHECK(*id != 0);
      SB_FUZZ_CHECK(std::to_string(*id) == frame);
    }
  }
  return 0;
}
