#include "tools/hive/swarm_report.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "tools/hive/grid_option.h"
#include "tools/hive/text_format.h"

namespace hive::tools {
namespace {

// Enough of the peer id to tell a swarm's servers apart in a table.
constexpr size_t kShortPeerIdHex = 12;

struct Server {
  net::SocketAddress address;
  net::PeerId peer;
  std::vector<const AnnouncedExpert*> experts;  // sorted by uid
};

// Grouped by (address, peer), in the order of the addresses.
std::vector<Server> servers_of(const std::vector<AnnouncedExpert>& experts) {
  std::map<std::pair<net::SocketAddress, net::PeerId>, std::vector<const AnnouncedExpert*>> grouped;
  for (const AnnouncedExpert& expert : experts) {
    grouped[{expert.location.address, expert.location.peer}].push_back(&expert);
  }
  std::vector<Server> servers;
  for (auto& [key, members] : grouped) servers.push_back({key.first, key.second, std::move(members)});
  return servers;
}

double expires_in_s(const AnnouncedExpert& expert, const SwarmView& view) {
  return static_cast<double>(expert.expiration - view.now) / 1000.0;
}

std::optional<double> age_s(const AnnouncedExpert& expert, const SwarmView& view) {
  const double age = 2 * view.assumed_announce_period_s - expires_in_s(expert, view);
  return age >= 0 ? std::optional<double>(age) : std::nullopt;
}

// Runs of uids that differ only in a last index counting up by one, as pattern text:
// "ffn.0.[0:4], ffn.2.7" (ranges are half-open, as in --expert-pattern).
std::string compressed_uids(const std::vector<const AnnouncedExpert*>& experts) {
  std::string text;
  for (size_t begin = 0; begin < experts.size();) {
    const moe::ExpertUid& first = experts[begin]->location.uid;
    const std::vector<int64_t>& head = first.indices();
    size_t end = begin + 1;
    while (end < experts.size()) {
      const std::vector<int64_t>& next = experts[end]->location.uid.indices();
      const bool same_parent = experts[end]->location.uid.prefix() == first.prefix() &&
                               next.size() == head.size() &&
                               std::equal(head.begin(), head.end() - 1, next.begin());
      if (!same_parent || next.back() != head.back() + static_cast<int64_t>(end - begin)) break;
      ++end;
    }
    if (!text.empty()) text += ", ";
    if (end - begin == 1) {
      text += first.to_string();
    } else {
      std::string parent = first.prefix() + moe::kUidDelimiter;
      for (size_t i = 0; i + 1 < head.size(); ++i) parent += std::to_string(head[i]) + moe::kUidDelimiter;
      text += str_cat(parent, "[", head.back(), ":", head.back() + static_cast<int64_t>(end - begin), "]");
    }
    begin = end;
  }
  return text;
}

std::string grid_text(const std::vector<int64_t>& grid) {
  std::string text;
  for (const int64_t size : grid) text += (text.empty() ? "" : "x") + std::to_string(size);
  return text;
}

// Columns padded to their widest cell; the columns in `right` are right-aligned (numbers).
std::string aligned(const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& right) {
  std::vector<size_t> widths(right.size(), 0);
  for (const auto& row : rows) {
    for (size_t column = 0; column < row.size(); ++column) {
      widths[column] = std::max(widths[column], row[column].size());
    }
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t column = 0; column < row.size(); ++column) {
      const std::string padding(widths[column] - row[column].size(), ' ');
      if (column > 0) line += "  ";
      line += right[column] ? padding + row[column] : row[column] + padding;
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

std::string json_string(std::string_view text) {
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      quoted += '\\';
      quoted += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      quoted += format("\\u%04x", static_cast<unsigned>(c));
    } else {
      quoted += c;
    }
  }
  return quoted + "\"";
}

}  // namespace

std::string swarm_table(const SwarmView& view) {
  const std::vector<Server> servers = servers_of(view.experts);
  const std::string period = format("%g s", view.assumed_announce_period_s);
  std::string text = str_cat("hive swarm: experts the DHT shows under '", view.uid_prefix,
                             moe::kUidDelimiter, "' on a ", grid_text(view.grid), " grid\n");
  text += "  EXPIRES IN: time left on the newest announcement the DHT holds.\n";
  text += str_cat("  AGE: estimated time since that announcement, 2 x ", period,
                  " - EXPIRES IN; right only for servers that announce every ", period,
                  " (--announce-period), '?' where it comes out negative.\n\n");

  std::vector<std::vector<std::string>> server_rows = {{"SERVER", "ADDRESS", "EXPERTS", "UIDS"}};
  for (const Server& server : servers) {
    server_rows.push_back({server.peer.to_hex().substr(0, kShortPeerIdHex), server.address.to_string(),
                           std::to_string(server.experts.size()), compressed_uids(server.experts)});
  }
  text += aligned(server_rows, {false, false, true, false}) + "\n";

  std::vector<std::vector<std::string>> expert_rows = {{"UID", "SERVER", "ADDRESS", "EXPIRES IN", "AGE"}};
  for (const AnnouncedExpert& expert : view.experts) {
    const std::optional<double> age = age_s(expert, view);
    expert_rows.push_back({expert.location.uid.to_string(),
                           expert.location.peer.to_hex().substr(0, kShortPeerIdHex),
                           expert.location.address.to_string(), format("%.1f s", expires_in_s(expert, view)),
                           age ? format("%.1f s", *age) : "?"});
  }
  text += aligned(expert_rows, {false, false, false, true, true}) + "\n";

  text += str_cat("total: ", view.experts.size(), " experts on ", servers.size(), " servers; ",
                  view.experts.size(), " of ", grid_size(view.grid), " grid slots alive; this client's "
                  "routing table holds ", view.dht_peers_known, " DHT peers\n");
  return text;
}

std::string swarm_json(const SwarmView& view) {
  const std::vector<Server> servers = servers_of(view.experts);
  std::string text = "{\"uid_prefix\":" + json_string(view.uid_prefix) + ",\"grid\":[";
  for (size_t i = 0; i < view.grid.size(); ++i) text += str_cat(i == 0 ? "" : ",", view.grid[i]);
  text += str_cat("],\"now_ms\":", view.now,
                  ",\"assumed_announce_period_s\":", format("%g", view.assumed_announce_period_s),
                  ",\"servers\":[");
  for (size_t i = 0; i < servers.size(); ++i) {
    text += str_cat(i == 0 ? "" : ",", "{\"peer_id\":", json_string(servers[i].peer.to_hex()),
                    ",\"address\":", json_string(servers[i].address.to_string()), ",\"uids\":[");
    for (size_t j = 0; j < servers[i].experts.size(); ++j) {
      text += str_cat(j == 0 ? "" : ",", json_string(servers[i].experts[j]->location.uid.to_string()));
    }
    text += "]}";
  }
  text += "],\"experts\":[";
  for (size_t i = 0; i < view.experts.size(); ++i) {
    const AnnouncedExpert& expert = view.experts[i];
    const std::optional<double> age = age_s(expert, view);
    text += str_cat(i == 0 ? "" : ",", "{\"uid\":", json_string(expert.location.uid.to_string()),
                    ",\"address\":", json_string(expert.location.address.to_string()),
                    ",\"peer_id\":", json_string(expert.location.peer.to_hex()),
                    ",\"expiration_ms\":", expert.expiration,
                    ",\"expires_in_s\":", format("%.3f", expires_in_s(expert, view)),
                    ",\"age_s\":", age ? format("%.3f", *age) : "null", "}");
  }
  text += str_cat("],\"totals\":{\"experts\":", view.experts.size(), ",\"servers\":", servers.size(),
                  ",\"grid_slots\":", grid_size(view.grid), ",\"dht_peers_known\":", view.dht_peers_known,
                  "}}\n");
  return text;
}

}  // namespace hive::tools
