// static_files: serves the web client (web/ of the checkout) and the admin console
// (web/admin/) over plain HTTP GET/HEAD. The files are embedded into the binary at build
// time (cmake/embed_files.cmake generates a source from web/), so the server is
// self-contained and needs no web root at run time; editing a file under web/ and
// rebuilding relinks only that generated source.
//
// Rules: `/` serves web/index.html, `/admin/` web/admin/index.html (a directory path without
// its trailing slash is redirected to it, so relative asset URLs resolve); other paths name
// a file exactly. No directory listings. Paths are percent-decoded once; `.` and `..`
// segments, backslashes, NUL and malformed escapes are 400 `bad_request`; anything else not
// embedded is 404 `not_found` with the API's `{"code","message"}` JSON. Answers carry the
// Content-Type of the extension, `Cache-Control: no-cache` and `X-Content-Type-Options:
// nosniff`; methods other than GET and HEAD are 405. HEAD answers the headers only.
#pragma once

#include <cstddef>
#include <string_view>

#include "transport/server.hpp"

namespace sb::http::static_files {

/// One embedded file: its path below web/ ("index.html", "admin/admin.js") and its bytes.
struct embedded_file {
  std::string_view path;
  std::string_view data;
};

/// The files embedded at build time (generated source), `embedded_count` of them.
extern const embedded_file embedded[];
/// How many entries of `embedded` are files.
extern const size_t embedded_count;

/// The embedded file at `path` (relative to web/), or nullptr.
const embedded_file* find(std::string_view path);

/// The Content-Type for a file name, from its extension.
std::string_view content_type_of(std::string_view path);

/// Answers one request for a static file; `target` is the request target (path + query).
transport::http_response serve(std::string_view method, std::string_view target);

} // namespace sb::http::static_files
