// Fuzzes the event log's record codec (storage/codec.cpp) and the rewrite rules built on
// it. The input is up to three records (an event, its target message, the target's latest
// edit). Properties: decode never reads past its bytes, throws or crashes; a refusal has
// one of the documented codes; whatever decodes re-encodes to a record that decodes to the
// same event; when all three are valid events and the rewrite is accepted, every row it
// writes is valid and no redacted row keeps text.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz/fuzz_check.hpp"
#include "storage/event.hpp"

using namespace sb::storage;

namespace {

std::optional<event> decode_checked(const std::string& bytes) {
  auto r = decode(bytes);
  if (!r) {
    const auto c = r.error().code();
    SB_FUZZ_CHECK(c == errc::unknown_version || c == errc::truncated || c == errc::bad_kind ||
                  c == errc::length_overflow || c == errc::bad_varint ||
                  c == errc::trailing_bytes);
    return std::nullopt;
  }
  const event e = *r;
  const auto again = decode(encode(e));
  SB_FUZZ_CHECK(again.has_value());
  SB_FUZZ_CHECK(*again == e);
  (void)validate(e);
  return e;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto first = in.ConsumeIntegralInRange<std::size_t>(0, size);
  const auto second = in.ConsumeIntegralInRange<std::size_t>(0, size);
  const auto a = in.ConsumeBytesAsString(first);
  const auto b = in.ConsumeBytesAsString(second);
  const auto c = in.ConsumeRemainingBytesAsString();
  const auto e = decode_checked(a);
  const auto target = decode_checked(b);
  const auto last_edit = decode_checked(c);
  if (!e || !rewrites_rows(e->kind) || !validate(*e).ok())
    return 0;
  rewrite_rows rows;
  if (target && validate(*target).ok())
    rows.target = target;
  if (last_edit && validate(*last_edit).ok())
    rows.last_edit = last_edit;
  const auto written = rewrites_of(*e, rows);
  if (!written)
    return 0;
  for (const auto& row : *written) {
    SB_FUZZ_CHECK(validate(row).ok());
    if (row.redacted_by != 0)
      SB_FUZZ_CHECK(row.text.empty());
  }
  (void)rows_after(rows, *e);
  return 0;
}
