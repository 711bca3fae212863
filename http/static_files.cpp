// static_files: GET/HEAD of the embedded web client and admin console (see the header).
#include "http/static_files.hpp"

#include <optional>
#include <string>

#include "protocol/json_writer.hpp"
#include "http/target.hpp"

namespace sb::http::static_files {

namespace {

using transport::http_response;

http_response error(unsigned status, std::string_view code, std::string_view message) {
  http_response r;
  r.status = status;
  protocol::json_writer w{r.body};
  w.begin_object().field("code", code).field("message", message).end_object();
  r.headers.emplace_back("Cache-Control", "no-cache");
  return r;
}

/// True if a decoded path could climb or hide: `.`/`..` segments, `\`, NUL, control bytes.
bool unsafe(std::string_view path) {
  for (char c : path)
    if (c == '\\' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      return true;
  size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    auto seg = path.substr(start, end == std::string_view::npos ? std::string_view::npos
                                                                : end - start);
    if (seg == "." || seg == "..")
      return true;
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
  return false;
}

} // namespace

const embedded_file* find(std::string_view path) {
  for (size_t i = 0; i < embedded_count; ++i)
    if (embedded[i].path == path)
      return &embedded[i];
  return nullptr;
}

std::string_view content_type_of(std::string_view path) {
  auto dot = path.rfind('.');
  auto ext = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
  if (ext == "html")
    return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs")
    return "text/javascript; charset=utf-8";
  if (ext == "css")
    return "text/css; charset=utf-8";
  if (ext == "json" || ext == "map")
    return "application/json";
  if (ext == "svg")
    return "image/svg+xml";
  if (ext == "png")
    return "image/png";
  if (ext == "ico")
    return "image/x-icon";
  if (ext == "jpg" || ext == "jpeg")
    return "image/jpeg";
  if (ext == "webp")
    return "image/webp";
  if (ext == "woff2")
    return "font/woff2";
  if (ext == "txt")
    return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

http_response serve(std::string_view method, std::string_view target) {
  if (method != "GET" && method != "HEAD") {
    auto r = error(405, "method_not_allowed", "use GET or HEAD");
    r.headers.emplace_back("Allow", "GET, HEAD");
    return r;
  }
  auto path = target.substr(0, target.find_first_of("?#"));
  if (path.empty() || path.front() != '/')
    return error(400, "bad_request", "the path must start with '/'");
  auto decoded = decode_path(path.substr(1));
  if (!decoded)
    return error(400, "bad_request", "malformed percent-escape in the path");
  if (unsafe(*decoded))
    return error(400, "bad_request", "'.' and '..' segments, '\\' and control bytes are refused");
  std::string rel = std::move(*decoded);
  // `/` and `/admin/` name their index.html; `/admin` redirects to `/admin/`.
  if (rel.empty() || rel.back() == '/') {
    rel += "index.html";
  } else if (!find(rel) && find(rel + "/index.html")) {
    http_response r;
    r.status = 301;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", std::string{path} + "/");
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
  }
  auto* f = find(rel);
  if (!f)
    return error(404, "not_found", "no such file");
  http_response r;
  r.status = 200;
  r.content_type = std::string{content_type_of(rel)};
  if (method == "GET")
    r.body = std::string{f->data};
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // The client and the console run only their own files, talk only to this origin, and
  // are never framed by another page (clickjacking), nor leak their URL as a referrer.
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; script-src 'self'; style-src 'self'; "
                         "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                         "base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

} // namespace sb::http::static_files
