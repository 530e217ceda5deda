import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.x.discovery.ServiceCache;
import org.apache.curator.x.discovery.ServiceDiscovery;
import org.apache.curator.x.discovery.details.ServiceCacheListener;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.x.discovery.ServiceDiscoveryBuilder;
import org.apache.curator.x.discovery.ServiceInstance;
import org.apache.curator.x.discovery.ServiceProvider;
import org.apache.curator.x.discovery.ServiceType;
import org.apache.curator.x.discovery.UriSpec;
import org.apache.curator.x.discovery.details.JsonInstanceSerializer;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.springframework.cloud.zookeeper.discovery.ZookeeperInstance;

/**
 * A Java service on the test's ZooKeeper, as Spring Cloud ZooKeeper runs one: Curator's ServiceDiscovery with the
 * Spring payload. One JVM, driven line by line on stdin (JVMs are slow to start), answering one JSON line on stdout:
 *
 *   serve <base> <service> <version> <hint> <status>   start a JDK HttpServer and register it (DYNAMIC)
 *   status <base> <curatorId> <status>                 re-register with another instance_status
 *   discover <base> <service>                          ServiceDiscovery.queryForInstances, payload read into ZookeeperInstance
 *   provider <base> <service>                          the instances a started ServiceProvider (its ServiceCache) holds
 *   call <base> <service> <path>                       ServiceProvider.getInstance(), then GET it
 *   watch <base> <service>                             start a ServiceCache that records the ids it holds after each change
 *   history <base> <service>                           those records, oldest first
 *   quit
 *
 * Args: <zk connect> [<digest user:password> <protected base path>]: with credentials, znodes under the protected
 * base path get the creator-only ACL (a digest-protected /services), everything else the open one.
 *
 * Each served server answers GET /version with what it is and the lane headers it got, and GET /chain?to=<service>
 * by calling <service> — an instance whose metadata hint equals the incoming X-SC-LB-Hint, as Spring Cloud
 * LoadBalancer's hint routing picks — forwarding the lane headers it received.
 */
public class GraykitInterop {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String[] LANE_HEADERS = {"x-gray-lane", "baggage", "x-sc-lb-hint", "n-d-version"};
  static CuratorFramework client;
  static final Map<String, ServiceDiscovery<ZookeeperInstance>> discoveries = new ConcurrentHashMap<>();
  static final Map<String, ServiceProvider<ZookeeperInstance>> providers = new ConcurrentHashMap<>();
  static final Map<String, ServiceInstance<ZookeeperInstance>> registered = new ConcurrentHashMap<>();
  static final Map<String, List<List<String>>> histories = new ConcurrentHashMap<>();
  static final Map<String, ServiceCache<ZookeeperInstance>> caches = new ConcurrentHashMap<>();
  static final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build();

  public static void main(String[] args) throws Exception {
    CuratorFrameworkFactory.Builder builder = CuratorFrameworkFactory.builder()
        .connectString(args[0]).sessionTimeoutMs(4000).connectionTimeoutMs(5000)
        .retryPolicy(new ExponentialBackoffRetry(200, 5));
    if (args.length >= 3) {
      String protectedBase = args[2];
      builder.authorization("digest", args[1].getBytes(StandardCharsets.UTF_8)).aclProvider(new ACLProvider() {
        public List<ACL> getDefaultAcl() { return ZooDefs.Ids.OPEN_ACL_UNSAFE; }
        public List<ACL> getAclForPath(String path) {
          return path.equals(protectedBase) || path.startsWith(protectedBase + "/") ? ZooDefs.Ids.CREATOR_ALL_ACL : ZooDefs.Ids.OPEN_ACL_UNSAFE;
        }
      });
    }
    client = builder.build();
    client.start();
    client.blockUntilConnected();
    reply(Map.of("event", "ready", "curator", ServiceDiscovery.class.getPackage().getImplementationVersion() + "", "java", System.getProperty("java.version")));
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      String[] cmd = line.trim().split(" ");
      try {
        if (cmd[0].equals("quit")) break;
        reply(run(cmd));
      } catch (Exception e) {
        reply(Map.of("event", "error", "command", line, "message", String.valueOf(e)));
      }
    }
    for (ServiceCache<ZookeeperInstance> c : caches.values()) c.close();
    for (ServiceProvider<ZookeeperInstance> p : providers.values()) p.close();
    for (ServiceDiscovery<ZookeeperInstance> d : discoveries.values()) d.close();
    client.close();
    System.exit(0);
  }

  static synchronized void reply(Object value) throws Exception {
    System.out.println(JSON.writeValueAsString(value));
    System.out.flush();
  }

  static ServiceDiscovery<ZookeeperInstance> discovery(String base) throws Exception {
    ServiceDiscovery<ZookeeperInstance> d = discoveries.get(base);
    if (d == null) {
      d = ServiceDiscoveryBuilder.builder(ZookeeperInstance.class).client(client).basePath(base)
          .serializer(new JsonInstanceSerializer<>(ZookeeperInstance.class)).build();
      d.start();
      discoveries.put(base, d);
    }
    return d;
  }

  static ServiceProvider<ZookeeperInstance> provider(String base, String service) throws Exception {
    String key = base + "|" + service;
    ServiceProvider<ZookeeperInstance> p = providers.get(key);
    if (p == null) {
      p = discovery(base).serviceProviderBuilder().serviceName(service).build();
      p.start();
      providers.put(key, p);
    }
    return p;
  }

  static Map<String, Object> describe(ServiceInstance<ZookeeperInstance> i) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", i.getId());
    m.put("address", i.getAddress());
    m.put("port", i.getPort());
    m.put("serviceType", String.valueOf(i.getServiceType()));
    ZookeeperInstance payload = i.getPayload();
    m.put("payloadClass", payload == null ? null : payload.getClass().getName());
    m.put("metadata", payload == null ? null : payload.getMetadata());
    m.put("registrationTimeUTC", i.getRegistrationTimeUTC());
    return m;
  }

  static Object run(String[] cmd) throws Exception {
    switch (cmd[0]) {
      case "serve": return serve(cmd[1], cmd[2], cmd[3], cmd[4], cmd[5]);
      case "status": {
        ServiceInstance<ZookeeperInstance> old = registered.get(cmd[2]);
        Map<String, String> metadata = new HashMap<>(old.getPayload().getMetadata());
        metadata.put("instance_status", cmd[3]);
        ServiceInstance<ZookeeperInstance> next = ServiceInstance.<ZookeeperInstance>builder().name(old.getName()).id(old.getId())
            .address(old.getAddress()).port(old.getPort()).serviceType(ServiceType.DYNAMIC).uriSpec(old.getUriSpec())
            .payload(new ZookeeperInstance(old.getPayload().getId(), old.getName(), metadata)).build();
        discovery(cmd[1]).updateService(next);
        registered.put(cmd[2], next);
        return Map.of("event", "status", "id", cmd[2], "status", cmd[3]);
      }
      case "discover": {
        List<Object> out = new ArrayList<>();
        for (ServiceInstance<ZookeeperInstance> i : discovery(cmd[1]).queryForInstances(cmd[2])) out.add(describe(i));
        return Map.of("event", "discover", "instances", out);
      }
      case "provider": {
        List<Object> out = new ArrayList<>();
        for (ServiceInstance<ZookeeperInstance> i : provider(cmd[1], cmd[2]).getAllInstances()) out.add(describe(i));
        return Map.of("event", "provider", "instances", out);
      }
      case "call": {
        ServiceInstance<ZookeeperInstance> i = provider(cmd[1], cmd[2]).getInstance();
        if (i == null) return Map.of("event", "call", "status", 0);
        HttpResponse<String> res = http.send(HttpRequest.newBuilder(URI.create("http://" + i.getAddress() + ":" + i.getPort() + cmd[3])).GET().build(), HttpResponse.BodyHandlers.ofString());
        return Map.of("event", "call", "status", res.statusCode(), "instance", i.getId(), "body", res.body());
      }
      case "watch": {
        String key = cmd[1] + "|" + cmd[2];
        List<List<String>> history = java.util.Collections.synchronizedList(new ArrayList<>());
        ServiceCache<ZookeeperInstance> cache = discovery(cmd[1]).serviceCacheBuilder().name(cmd[2]).build();
        cache.addListener(new ServiceCacheListener() {
          public void cacheChanged() {
            List<String> ids = new ArrayList<>();
            for (ServiceInstance<ZookeeperInstance> i : cache.getInstances()) ids.add(i.getId());
            java.util.Collections.sort(ids);
            history.add(ids);
          }
          public void stateChanged(CuratorFramework c, ConnectionState state) {}
        });
        cache.start();
        caches.put(key, cache);
        histories.put(key, history);
        List<String> ids = new ArrayList<>();
        for (ServiceInstance<ZookeeperInstance> i : cache.getInstances()) ids.add(i.getId());
        return Map.of("event", "watch", "ids", ids);
      }
      case "history": {
        List<List<String>> history = histories.get(cmd[1] + "|" + cmd[2]);
        synchronized (history) { return Map.of("event", "history", "history", new ArrayList<>(history)); }
      }
      default: throw new IllegalArgumentException("unknown command " + cmd[0]);
    }
  }

  static Object serve(String base, String service, String version, String hint, String status) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    int port = server.getAddress().getPort();
    Map<String, String> metadata = new HashMap<>();
    metadata.put("version", version);
    metadata.put("hint", hint);
    metadata.put("instance_status", status);
    ServiceInstance<ZookeeperInstance> instance = ServiceInstance.<ZookeeperInstance>builder().name(service)
        .address("127.0.0.1").port(port).serviceType(ServiceType.DYNAMIC)
        .uriSpec(new UriSpec("{scheme}://{address}:{port}"))
        .payload(new ZookeeperInstance(service + "-" + port, service, metadata)).build();
    server.createContext("/", exchange -> {
      try {
        handle(exchange, base, version, hint, port);
      } catch (Exception e) {
        byte[] body = String.valueOf(e).getBytes(StandardCharsets.UTF_8);
        exchange.sendResponseHeaders(500, body.length);
        try (OutputStream out = exchange.getResponseBody()) { out.write(body); }
      }
    });
    server.setExecutor(java.util.concurrent.Executors.newFixedThreadPool(4));
    server.start();
    discovery(base).registerService(instance);
    registered.put(instance.getId(), instance);
    return Map.of("event", "serving", "id", instance.getId(), "port", port);
  }

  static void handle(HttpExchange exchange, String base, String version, String hint, int port) throws Exception {
    Map<String, Object> out = new LinkedHashMap<>();
    out.put("version", version);
    out.put("hint", hint);
    out.put("port", port);
    Map<String, String> lane = new LinkedHashMap<>();
    for (String name : LANE_HEADERS) {
      String value = exchange.getRequestHeaders().getFirst(name);
      if (value != null) lane.put(name, value);
    }
    out.put("headers", lane);
    String query = exchange.getRequestURI().getQuery();
    if (exchange.getRequestURI().getPath().equals("/chain") && query != null && query.startsWith("to=")) {
      String to = query.substring(3);
      String wanted = lane.get("x-sc-lb-hint");
      List<ServiceInstance<ZookeeperInstance>> candidates = new ArrayList<>();
      for (ServiceInstance<ZookeeperInstance> i : provider(base, to).getAllInstances()) {
        if (wanted == null || wanted.equals(i.getPayload().getMetadata().get("hint"))) candidates.add(i);
      }
      ServiceInstance<ZookeeperInstance> next = candidates.get((int) (Math.random() * candidates.size()));
      HttpRequest.Builder call = HttpRequest.newBuilder(URI.create("http://" + next.getAddress() + ":" + next.getPort() + "/lane")).GET();
      for (Map.Entry<String, String> header : lane.entrySet()) call.header(header.getKey(), header.getValue());
      HttpResponse<String> res = http.send(call.build(), HttpResponse.BodyHandlers.ofString());
      out.put("downstream", JSON.readTree(res.body()));
    }
    byte[] body = JSON.writeValueAsBytes(out);
    exchange.getResponseHeaders().set("content-type", "application/json");
    exchange.sendResponseHeaders(200, body.length);
    try (OutputStream o = exchange.getResponseBody()) { o.write(body); }
  }
}
