import EnvoyAPI
import SwiftProtobuf

extension Snapshot {
    static let hcmTypeURL =
        "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"

    /// Lists every reference that points at a resource the snapshot does not hold.
    ///
    /// After go-control-plane's `Snapshot.Consistent()`, extended to what qpilot generates:
    /// - a listener's RDS route name and each ECDS filter name must exist;
    /// - a route's target cluster must exist;
    /// - an EDS cluster's load assignment must exist;
    /// - an internal-address endpoint must name an existing (internal) listener.
    /// Envoy would otherwise warm forever or 503; the check turns that into an error at publish.
    public func consistencyProblems() -> [String] {
        var problems: [String] = []
        let listeners = resources(of: .listener)
        let routes = resources(of: .route)
        let clusters = resources(of: .cluster)
        let endpoints = resources(of: .endpoint)
        let extensionConfigs = resources(of: .extensionConfig)

        for (name, resource) in listeners.sorted(by: { $0.key < $1.key }) {
            guard let listener = try? Envoy_Config_Listener_V3_Listener(serializedBytes: resource.body.value) else {
                problems.append("listener '\(name)' does not decode")
                continue
            }
            for chain in listener.filterChains {
                for filter in chain.filters where filter.typedConfig.typeURL == Self.hcmTypeURL {
                    guard let hcm = try? Envoy_Extensions_Filters_Network_HttpConnectionManager_V3_HttpConnectionManager(
                        serializedBytes: filter.typedConfig.value)
                    else {
                        problems.append("listener '\(name)': its HTTP connection manager does not decode")
                        continue
                    }
                    if case .rds(let rds) = hcm.routeSpecifier, routes[rds.routeConfigName] == nil {
                        problems.append("listener '\(name)' uses route '\(rds.routeConfigName)', which is missing")
                    }
                    for httpFilter in hcm.httpFilters {
                        if case .configDiscovery = httpFilter.configType, extensionConfigs[httpFilter.name] == nil {
                            problems.append("listener '\(name)' uses filter config '\(httpFilter.name)', which is missing")
                        }
                    }
                }
            }
        }
        for (name, resource) in routes.sorted(by: { $0.key < $1.key }) {
            guard let route = try? Envoy_Config_Route_V3_RouteConfiguration(serializedBytes: resource.body.value) else {
                problems.append("route '\(name)' does not decode")
                continue
            }
            for host in route.virtualHosts {
                for entry in host.routes {
                    if case .route(let action) = entry.action, case .cluster(let cluster) = action.clusterSpecifier,
                        clusters[cluster] == nil
                    {
                        problems.append("route '\(name)' sends traffic to cluster '\(cluster)', which is missing")
                    }
                }
            }
        }
        for (name, resource) in clusters.sorted(by: { $0.key < $1.key }) {
            guard let cluster = try? Envoy_Config_Cluster_V3_Cluster(serializedBytes: resource.body.value) else {
                problems.append("cluster '\(name)' does not decode")
                continue
            }
            if case .type? = cluster.clusterDiscoveryType, cluster.type == .eds {
                let service = cluster.edsClusterConfig.serviceName.isEmpty ? name : cluster.edsClusterConfig.serviceName
                if endpoints[service] == nil {
                    problems.append("cluster '\(name)' uses endpoints '\(service)', which are missing")
                }
            }
            for locality in cluster.loadAssignment.endpoints {
                for lb in locality.lbEndpoints {
                    let address = lb.endpoint.address
                    if case .envoyInternalAddress(let internalAddress) = address.address,
                        listeners[internalAddress.serverListenerName] == nil
                    {
                        problems.append(
                            "cluster '\(name)' points at internal listener '\(internalAddress.serverListenerName)', which is missing")
                    }
                }
            }
        }
        return problems
    }
}
