// The expert RPC: three methods on a server's net::Endpoint. Every request's metadata is an
// ExpertCall (expert_call.h) naming the expert; tensors travel as the message's wire tensors
// (tensor_wire.h), in the order below.
//
//   moe.info      request: no tensors.                      reply metadata: ExpertInfo
//                                                           (expert_info.h), no tensors.
//   moe.forward   request: the schema's inputs.             reply: the outputs.
//   moe.backward  request: the inputs, then one gradient    reply: one gradient per input.
//                 per output.
#pragma once

#include <string_view>

namespace hive::moe {

inline constexpr std::string_view kInfoMethod = "moe.info";
inline constexpr std::string_view kForwardMethod = "moe.forward";
inline constexpr std::string_view kBackwardMethod = "moe.backward";

}  // namespace hive::moe
