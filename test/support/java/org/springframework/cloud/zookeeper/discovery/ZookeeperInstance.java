package org.springframework.cloud.zookeeper.discovery;

import java.util.HashMap;
import java.util.Map;

/**
 * The shape of Spring Cloud ZooKeeper's payload class, under its name: Curator's JsonInstanceSerializer resolves the
 * payload by its "@class", so a Spring service and this test read the same JSON into the same fields.
 */
public class ZookeeperInstance {
  private String id;
  private String name;
  private Map<String, String> metadata = new HashMap<>();

  public ZookeeperInstance() {}

  public ZookeeperInstance(String id, String name, Map<String, String> metadata) {
    this.id = id;
    this.name = name;
    this.metadata = metadata;
  }

  public String getId() { return id; }
  public void setId(String id) { this.id = id; }
  public String getName() { return name; }
  public void setName(String name) { this.name = name; }
  public Map<String, String> getMetadata() { return metadata; }
  public void setMetadata(Map<String, String> metadata) { this.metadata = metadata; }
}
