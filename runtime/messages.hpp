// The runtime's message vocabulary: every atom a supervisor understands, in one place.
#pragma once

#include <caf/atom.hpp>

namespace sb::runtime {

/// Start a dynamic child: (start_child_atom, key, caf::message args) -> caf::actor.
using start_child_atom = caf::atom_constant<caf::atom("sbstartch")>;
/// Stop a child for good, no restart: (terminate_child_atom, key) -> ok.
using terminate_child_atom = caf::atom_constant<caf::atom("sbtermch")>;
/// Kill a child as if it crashed; its restart type decides: (kill_child_atom, key) -> ok.
using kill_child_atom = caf::atom_constant<caf::atom("sbkillch")>;
/// Current handle of a child: (which_child_atom, key) -> caf::actor.
using which_child_atom = caf::atom_constant<caf::atom("sbwhich")>;
/// Introspection: (snapshot_atom, snapshot_query) -> subtree_snapshot.
using snapshot_atom = caf::atom_constant<caf::atom("sbsnap")>;
/// Internal: the shutdown timeout of a stopping child expired.
using shutdown_timeout_atom = caf::atom_constant<caf::atom("sbshuttmo")>;
/// Internal: retry a restart that failed (OTP try_again_restart).
using try_again_restart_atom = caf::atom_constant<caf::atom("sbretry")>;

} // namespace sb::runtime
