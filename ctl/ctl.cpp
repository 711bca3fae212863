// switchboard-ctl: the operator API from a terminal (docs/admin.md).
//
//   switchboard-ctl [--host=127.0.0.1] [--port=8080] [--token=T] <command> [args]
//     overview                         node figures
//     tree [path] [--q=prefix] [--kind=k] [--after=cursor] [--limit=n]
//                                      one page of a supervisor's children (path: node/channels)
//     actors [--sort=mailbox|handled|restarts] [--kind=k] [--limit=n]
//     show <kind> <key>                one actor's detail (raw JSON)
//     stop <kind> <key>                kill it as a crash would (its supervisor restarts it)
//     disconnect <user>                close a user's connections (4007), revoke their sessions
//     passivate                        stop idle channel actors now
//     audit [--after=id] [--limit=n]   the audit log, oldest first
//
// The token comes from --token or the SB_ADMIN_TOKEN environment variable (prefer the
// variable: a command line is visible to every user of the machine). Exit codes: 0 ok,
// 1 usage, 2 no connection, 3 the API answered an error (its code and message are printed).
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

struct options {
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string token;
  std::vector<std::string> args;            // positional
  std::map<std::string, std::string> flags; // --name=value
};

struct reply {
  unsigned status = 0;
  std::string body;
};

bool is_number(const std::string& s) {
  return !s.empty() && s.size() <= 10
         && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// The usage text: on stdout for --help (exit 0), on stderr after a mistake (exit 1).
int usage(std::FILE* out = stderr) {
  std::fprintf(out,
               "usage: switchboard-ctl [--host=H] [--port=P] [--token=T] <command> [args]\n"
               "commands: overview | tree [path] [--q= --kind= --after= --limit=] |\n"
               "          actors [--sort=mailbox|handled|restarts --kind= --limit=] |\n"
               "          show <kind> <key> | stop <kind> <key> | disconnect <user> |\n"
               "          passivate | audit [--after= --limit=] | cluster |\n"
               "          move <partition> --to=<node> | drain <node> | rebalance\n"
               "token: --token or SB_ADMIN_TOKEN\n");
  return out == stdout ? 0 : 1;
}

/// The flags commands take (besides --host, --port, --token).
bool known_flag(const std::string& name) {
  static const char* const flags[] = {"q", "kind", "after", "limit", "depth", "sort", "to"};
  return std::any_of(std::begin(flags), std::end(flags), [&](const char* f) { return name == f; });
}

/// One HTTP/1.1 request with a 10 s deadline; nullopt (and a message) on transport errors.
std::optional<reply> call(const options& o, http::verb method, const std::string& target,
                          const std::string& body = "") {
  try {
    asio::io_context ioc;
    asio::ip::tcp::resolver resolver{ioc};
    beast::tcp_stream stream{ioc};
    stream.expires_after(std::chrono::seconds(10));
    stream.connect(resolver.resolve(o.host, o.port));
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, o.host);
    req.set(http::field::authorization, "Bearer " + o.token);
    if (method == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body.empty() ? "{}" : body;
      req.prepare_payload();
    }
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(stream, buf, res);
    beast::error_code ec;
    stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    return reply{res.result_int(), std::move(res.body())};
  } catch (const boost::system::system_error& e) {
    std::fprintf(stderr, "switchboard-ctl: %s:%s: %s\n", o.host.c_str(), o.port.c_str(),
                 e.code().message().c_str());
    return std::nullopt;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "switchboard-ctl: %s:%s: %s\n", o.host.c_str(), o.port.c_str(), e.what());
    return std::nullopt;
  }
}

/// A JSON string literal of `s` (quotes, backslashes and control characters escaped).
std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

/// Percent-encodes a query value.
std::string enc(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string query(const options& o, std::initializer_list<const char*> names,
                  std::string first = "") {
  std::string q = std::move(first);
  for (auto n : names)
    if (auto i = o.flags.find(n); i != o.flags.end())
      q += (q.empty() ? "" : "&") + std::string{n} + "=" + enc(i->second);
  return q.empty() ? "" : "?" + q;
}

std::string text(simdjson::dom::element e) {
  switch (e.type()) {
    case simdjson::dom::element_type::STRING: return std::string{std::string_view(e)};
    case simdjson::dom::element_type::INT64: return std::to_string(int64_t(e));
    case simdjson::dom::element_type::UINT64: return std::to_string(uint64_t(e));
    case simdjson::dom::element_type::DOUBLE: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", double(e));
      return buf;
    }
    case simdjson::dom::element_type::BOOL: return bool(e) ? "true" : "false";
    case simdjson::dom::element_type::NULL_VALUE: return "-";
    default: return simdjson::minify(e);
  }
}

std::string field(simdjson::dom::element e, const char* key) {
  simdjson::dom::element v;
  if (e[key].get(v))
    return "";
  return text(v);
}

/// Prints rows as a left-aligned table with a header.
void table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w(head.size());
  for (size_t i = 0; i < head.size(); ++i)
    w[i] = head[i].size();
  for (auto& r : rows)
    for (size_t i = 0; i < r.size() && i < w.size(); ++i)
      w[i] = std::max(w[i], r[i].size());
  auto line = [&](const std::vector<std::string>& r) {
    std::string out;
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size())
        out += std::string(w[i] - r[i].size() + 2, ' ');
    }
    std::cout << out << "\n";
  };
  line(head);
  for (auto& r : rows)
    line(r);
}

std::string when(const std::string& ms) {
  auto v = std::strtoll(ms.c_str(), nullptr, 10);
  std::time_t s = static_cast<std::time_t>(v / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  if (auto* t = std::getenv("SB_ADMIN_TOKEN"))
    o.token = t;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h")
      return usage(stdout);
    if (a.rfind("--", 0) == 0) {
      auto eq = a.find('=');
      auto name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      std::string value;
      if (eq != std::string::npos)
        value = a.substr(eq + 1);
      else if (i + 1 < argc)
        value = argv[++i];
      if (name == "host") o.host = value;
      else if (name == "port") o.port = value;
      else if (name == "token") o.token = value;
      else if (known_flag(name)) o.flags[name] = value;
      else {
        std::fprintf(stderr, "switchboard-ctl: unknown option --%s\n", name.c_str());
        return usage();
      }
    } else {
      o.args.push_back(a);
    }
  }
  if (o.args.empty())
    return usage();
  if (o.token.empty()) {
    std::fprintf(stderr, "switchboard-ctl: no token (--token or SB_ADMIN_TOKEN)\n");
    return 1;
  }
  auto& cmd = o.args[0];
  std::optional<reply> r;
  const std::string api = "/admin/api/";
  if (cmd == "overview" && o.args.size() == 1)
    r = call(o, http::verb::get, api + "overview");
  else if (cmd == "tree" && o.args.size() <= 2)
    r = call(o, http::verb::get,
             api + "topology"
               + query(o, {"q", "kind", "after", "limit", "depth"},
                       "path=" + enc(o.args.size() == 2 ? o.args[1] : "node")));
  else if (cmd == "actors" && o.args.size() == 1)
    r = call(o, http::verb::get, api + "actors" + query(o, {"sort", "kind", "limit"}));
  else if (cmd == "show" && o.args.size() == 3)
    r = call(o, http::verb::get, api + "actors/" + enc(o.args[1]) + "/" + enc(o.args[2]));
  else if (cmd == "stop" && o.args.size() == 3)
    r = call(o, http::verb::post, api + "actors/stop",
             "{\"kind\":" + json_string(o.args[1]) + ",\"key\":" + json_string(o.args[2]) + "}");
  else if (cmd == "disconnect" && o.args.size() == 2)
    r = call(o, http::verb::post, api + "users/" + enc(o.args[1]) + "/disconnect");
  else if (cmd == "passivate" && o.args.size() == 1)
    r = call(o, http::verb::post, api + "channels/passivate");
  else if (cmd == "audit" && o.args.size() == 1)
    r = call(o, http::verb::get, api + "audit" + query(o, {"after", "limit"}));
  else if (cmd == "cluster" && o.args.size() == 1)
    r = call(o, http::verb::get, api + "cluster");
  else if (cmd == "move" && o.args.size() == 2 && o.flags.count("to") != 0
           && is_number(o.args[1]) && is_number(o.flags.at("to")))
    r = call(o, http::verb::post, api + "cluster/partitions/" + o.args[1] + "/move",
             "{\"to\":" + o.flags.at("to") + "}");
  else if (cmd == "drain" && o.args.size() == 2 && is_number(o.args[1]))
    r = call(o, http::verb::post, api + "cluster/nodes/" + o.args[1] + "/drain");
  else if (cmd == "rebalance" && o.args.size() == 1)
    r = call(o, http::verb::post, api + "cluster/rebalance");
  else
    return usage();
  if (!r)
    return 2;
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(r->body).get(root)) {
    std::fprintf(stderr, "switchboard-ctl: HTTP %u, not JSON\n", r->status);
    return 3;
  }
  if (r->status != 200 && r->status != 202) {
    std::fprintf(stderr, "switchboard-ctl: HTTP %u %s: %s\n", r->status,
                 field(root, "code").c_str(), field(root, "message").c_str());
    return 3;
  }
  if (cmd == "overview") {
    simdjson::dom::object obj = root;
    for (auto [k, v] : obj) {
      if (k == "kinds")
        continue;
      std::printf("%-20s %s\n", std::string{k}.c_str(), text(v).c_str());
    }
    std::vector<std::vector<std::string>> rows;
    for (auto k : root["kinds"].get_array())
      rows.push_back({field(k, "kind"), field(k, "count"), field(k, "restarts"),
                      field(k, "max_mailbox_depth")});
    std::cout << "\n";
    table({"KIND", "COUNT", "RESTARTS", "MAX_MAILBOX"}, rows);
  } else if (cmd == "tree" || cmd == "actors") {
    std::vector<std::vector<std::string>> rows;
    auto list = root[cmd == "tree" ? "children" : "actors"].get_array();
    for (auto c : list)
      rows.push_back({field(c, "cursor"), field(c, "kind"), field(c, "key"), field(c, "state"),
                      field(c, "mailbox_depth"), field(c, "messages_handled"),
                      field(c, "restarts"), field(c, "last_exit_reason")});
    if (cmd == "tree")
      std::cout << field(root, "path") << " (" << field(root, "strategy") << "): "
                << field(root, "matching_children") << " matching of "
                << field(root, "total_children") << " children, "
                << field(root, "total_restarts") << " restarts\n\n";
    table({"CURSOR", "KIND", "KEY", "STATE", "MAILBOX", "HANDLED", "RESTARTS", "LAST_EXIT"}, rows);
    if (cmd == "tree" && field(root, "next_cursor") != "0")
      std::cout << "\nmore: --after=" << field(root, "next_cursor") << "\n";
  } else if (cmd == "audit") {
    std::vector<std::vector<std::string>> rows;
    for (auto a : root["records"].get_array())
      rows.push_back({field(a, "id"), when(field(a, "time")), field(a, "who"), field(a, "method"),
                      field(a, "path"), field(a, "target"), field(a, "status"), field(a, "code")});
    table({"ID", "TIME (UTC)", "WHO", "METHOD", "PATH", "TARGET", "STATUS", "CODE"}, rows);
    if (field(root, "next_after") != "-")
      std::cout << "\nmore: --after=" << field(root, "next_after") << "\n";
  } else if (cmd == "move" || cmd == "drain" || cmd == "rebalance") {
    std::vector<std::vector<std::string>> rows;
    for (auto m : root["queued"].get_array())
      rows.push_back({field(m, "partition"), field(m, "from"), field(m, "to"), field(m, "phase")});
    std::cout << "queued " << rows.size() << " move" << (rows.size() == 1 ? "" : "s")
              << " (follow them with: switchboard-ctl cluster)\n\n";
    table({"PARTITION", "FROM", "TO", "PHASE"}, rows);
  } else if (cmd == "cluster" && field(root, "mode") == "cluster") {
    std::cout << "node " << field(root, "self") << " (" << field(root, "state") << ", incarnation "
              << field(root, "incarnation") << ", lease left " << field(root, "lease_left_ms")
              << " ms); controller node " << field(root["controller"], "node") << " epoch "
              << field(root["controller"], "epoch") << "; etcd revision "
              << field(root, "revision") << "\n\n";
    std::vector<std::vector<std::string>> rows;
    for (auto n : root["nodes"].get_array())
      rows.push_back({field(n, "node"), field(n, "state"), field(n, "incarnation"),
                      field(n, "cluster_addr"), field(n, "http"), field(n, "link"),
                      field(n, "partitions")});
    table({"NODE", "STATE", "INCARNATION", "CLUSTER_ADDR", "HTTP", "LINK", "PARTITIONS"}, rows);
    rows.clear();
    for (auto m : root["moves"].get_array())
      rows.push_back({field(m, "partition"), field(m, "from"), field(m, "to"), field(m, "epoch"),
                      field(m, "phase"), field(m, "rows"), field(m, "bytes"), field(m, "error")});
    if (!rows.empty()) {
      std::cout << "\nthis node's partition moves:\n";
      table({"PARTITION", "FROM", "TO", "EPOCH", "PHASE", "ROWS", "BYTES", "ERROR"}, rows);
    }
    std::cout << "\npartitions: " << text(root["partition_states"]) << ", unavailable "
              << field(root, "partitions_unavailable") << "\n\nrecent events:\n";
    rows.clear();
    auto events = root["events"].get_array();
    size_t n = events.size(), i = 0;
    for (auto e : events)
      if (i++ + 10 >= n)
        rows.push_back({when(field(e, "at_ms")), field(e, "what"), field(e, "detail")});
    table({"TIME (UTC)", "WHAT", "DETAIL"}, rows);
  } else {
    std::cout << simdjson::minify(root) << "\n";
  }
  return 0;
}
