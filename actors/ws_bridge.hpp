// ws_bridge: the seam between one transport session (its Asio strand) and its connection
// actor. The transport calls on_text/on_binary/on_closed; the bridge turns each into a
// message for the actor, holding the first few (bounded) until the actor is attached.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/make_message.hpp>
#include <caf/message.hpp>

#include "actors/chat_messages.hpp"
#include "transport/server.hpp"

namespace sb::actors {

/// Bridges one transport session to its connection actor. Inbound events that arrive
/// before the actor is attached wait here (bounded).
class ws_bridge : public transport::ws_handler {
public:
  static constexpr size_t max_pending = 64;

  explicit ws_bridge(std::shared_ptr<transport::ws_link> link) : link_(std::move(link)) {}

  const std::shared_ptr<transport::ws_link>& link() const { return link_; }

  void attach(const caf::actor& conn) {
    std::lock_guard guard{mtx_};
    conn_ = conn;
    for (auto& msg : pending_)
      conn_->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
    pending_.clear();
  }

  void on_text(std::string_view text) override {
    forward(caf::make_message(inbound_atom::value, std::string{text}, false));
  }
  void on_binary(size_t) override {
    forward(caf::make_message(inbound_atom::value, std::string{}, true));
  }
  void on_closed(uint16_t code) override {
    forward(caf::make_message(closed_atom::value, code));
  }

private:
  void forward(caf::message msg) {
    std::lock_guard guard{mtx_};
    if (conn_) {
      conn_->enqueue(nullptr, caf::make_message_id(), std::move(msg), nullptr);
      return;
    }
    if (pending_.size() >= max_pending) {
      link_->close(transport::close_code::rate_limited, "too many frames before ready");
      return;
    }
    pending_.push_back(std::move(msg));
  }

  std::shared_ptr<transport::ws_link> link_;
  std::mutex mtx_;
  caf::actor conn_;
  std::vector<caf::message> pending_;
};

} // namespace sb::actors

// The bridge owns one socket of this process: only the connection supervisor's start_child
// carries it, from the transport thread to the node, never to another node.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::shared_ptr<sb::actors::ws_bridge>)
