// A complete program against a running Meridian (e.g. `meridian demo`): it creates a table in the
// topology's first region, writes an item there, reads it back strongly consistent and, when the
// topology has a second region, makes the table global and waits for the item to arrive there.
//   quickstart [TOPOLOGY]     (default $MERIDIAN_TOPOLOGY, else meridian-demo/topology.yaml)
// The README shows this file; the test command builds it and runs it against a demo.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "meridian/region_client.h"
#include "topology/topology.h"

int main(int argc, char** argv) {
  const char* env = std::getenv("MERIDIAN_TOPOLOGY");
  std::string path = argc > 1 ? argv[1] : env ? env : "meridian-demo/topology.yaml";
  auto topology = meridian::topology::LoadTopology(path);
  if (!topology.ok()) return std::cerr << topology.status().ToString() << "\n", 2;
  // The demo writes the client key beside the topology (profile `meridian`).
  auto credentials = meridian::LoadSharedCredentials(
      (std::filesystem::path(path).parent_path() / "credentials").string(), "meridian");
  if (!credentials.ok()) return std::cerr << credentials.status().ToString() << "\n", 2;

  const meridian::topology::Region& home = topology->regions.front();
  meridian::RegionClient client({.region = home, .credentials = *credentials});

  meridian::CreateTableRequest create{.table_name = "quickstart"};
  create.key_schema = {{.attribute_name = "id", .key_type = meridian::KeyType::kHash}};
  create.attribute_definitions = {{.attribute_name = "id", .attribute_type = meridian::AttributeType::kS}};
  create.billing_mode = meridian::BillingMode::kPayPerRequest;
  if (auto r = client.CreateTable(create); !r.ok() && r.status().code() != meridian::ErrorCode::kResourceInUse) {
    return std::cerr << r.status().ToString() << "\n", 1;
  }

  meridian::PutItemRequest put{.table_name = "quickstart"};
  put.item["id"] = meridian::AttributeValue::S("hello");
  put.item["plays"] = meridian::AttributeValue::N(meridian::Decimal::FromInt64(1));
  if (auto r = client.PutItem(put); !r.ok()) return std::cerr << r.status().ToString() << "\n", 1;

  meridian::GetItemRequest get{.table_name = "quickstart", .consistent_read = true};
  get.key["id"] = meridian::AttributeValue::S("hello");
  auto got = client.GetItem(get);
  if (!got.ok() || !got->item) return std::cerr << "read back failed\n", 1;
  std::cout << home.name << ": plays = " << got->item->at("plays").n().ToString() << "\n";

  if (topology->regions.size() < 2) return 0;
  const meridian::topology::Region& other = topology->regions[1];
  meridian::UpdateTableRequest global{.table_name = "quickstart"};
  global.replica_updates.push_back({.create = other.name});
  if (auto r = client.Call(meridian::Request{global});
      !r.ok() && r.status().code() != meridian::ErrorCode::kValidation) {  // already a replica
    return std::cerr << r.status().ToString() << "\n", 1;
  }
  meridian::RegionClient remote({.region = other, .credentials = *credentials});
  get.consistent_read = false;
  for (int i = 0; i < 300; ++i) {  // replication is asynchronous: wait up to 30 s
    if (auto r = remote.GetItem(get); r.ok() && r->item) {
      std::cout << other.name << ": the item arrived\n";
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::cerr << other.name << ": the item did not arrive within 30 s\n", 1;
}
