//! The static part of Hetzner Cloud: locations, datacenters, server and load balancer types (with
//! prices as Hetzner publishes them: net EUR, gross = net + 19 % VAT, ten decimals) and images.

use serde_json::{Value, json};

pub struct LocationDef {
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
    pub country: &'static str,
    pub city: &'static str,
    pub latitude: f64,
    pub longitude: f64,
    pub network_zone: &'static str,
    pub datacenter: &'static str,
}

pub const LOCATIONS: &[LocationDef] = &[
    LocationDef {
        id: 1,
        name: "fsn1",
        description: "Falkenstein DC Park 1",
        country: "DE",
        city: "Falkenstein",
        latitude: 50.47612,
        longitude: 12.370071,
        network_zone: "eu-central",
        datacenter: "fsn1-dc14",
    },
    LocationDef {
        id: 2,
        name: "nbg1",
        description: "Nuremberg DC Park 1",
        country: "DE",
        city: "Nuremberg",
        latitude: 49.452102,
        longitude: 11.076665,
        network_zone: "eu-central",
        datacenter: "nbg1-dc3",
    },
    LocationDef {
        id: 3,
        name: "hel1",
        description: "Helsinki DC Park 1",
        country: "FI",
        city: "Helsinki",
        latitude: 60.169855,
        longitude: 24.938379,
        network_zone: "eu-central",
        datacenter: "hel1-dc2",
    },
    LocationDef {
        id: 4,
        name: "ash",
        description: "Ashburn, VA",
        country: "US",
        city: "Ashburn, VA",
        latitude: 39.045821,
        longitude: -77.487073,
        network_zone: "us-east",
        datacenter: "ash-dc1",
    },
    LocationDef {
        id: 5,
        name: "hil",
        description: "Hillsboro, OR",
        country: "US",
        city: "Hillsboro, OR",
        latitude: 45.54222,
        longitude: -122.951924,
        network_zone: "us-west",
        datacenter: "hil-dc1",
    },
    LocationDef {
        id: 6,
        name: "sin",
        description: "Singapore",
        country: "SG",
        city: "Singapore",
        latitude: 1.283333,
        longitude: 103.833333,
        network_zone: "ap-southeast",
        datacenter: "sin-dc1",
    },
];

pub fn location_json(l: &LocationDef) -> Value {
    json!({
        "id": l.id, "name": l.name, "description": l.description, "country": l.country,
        "city": l.city, "latitude": l.latitude, "longitude": l.longitude,
        "network_zone": l.network_zone,
    })
}

pub fn find_location(key: &str) -> Option<&'static LocationDef> {
    LOCATIONS
        .iter()
        .find(|l| l.name == key || l.id.to_string() == key || l.datacenter == key)
}

pub fn datacenter_json(l: &LocationDef) -> Value {
    let ids: Vec<i64> = SERVER_TYPES.iter().map(|t| t.id).collect();
    json!({
        "id": l.id,
        "name": l.datacenter,
        "description": format!("{} virtual DC {}", l.city, l.datacenter.rsplit("dc").next().unwrap_or("1")),
        "location": location_json(l),
        "server_types": {"available": ids, "available_for_migration": ids, "supported": ids},
    })
}

pub struct ServerTypeDef {
    pub id: i64,
    pub name: &'static str,
    pub cores: i64,
    pub memory: f64,
    pub disk: i64,
    pub hourly: f64,
    pub monthly: f64,
    pub cpu_type: &'static str,
    pub architecture: &'static str,
    pub category: &'static str,
    pub deprecated: bool,
}

/// Compact table rows: (cores, memory GB, disk GB), (€/h, €/month), (cpu, arch, category).
const fn st(
    id: i64,
    name: &'static str,
    size: (i64, f64, i64),
    price: (f64, f64),
    kind: (&'static str, &'static str, &'static str),
    deprecated: bool,
) -> ServerTypeDef {
    ServerTypeDef {
        id,
        name,
        cores: size.0,
        memory: size.1,
        disk: size.2,
        hourly: price.0,
        monthly: price.1,
        cpu_type: kind.0,
        architecture: kind.1,
        category: kind.2,
        deprecated,
    }
}

/// The catalogue of the wizard (contract §4.4) plus the previous generation still used by the
/// Terraform defaults (`cx42`/`cx32`) and the DoD test (`cpx21`), which Hetzner lists as deprecated.
pub const SERVER_TYPES: &[ServerTypeDef] = &[
    st(
        22,
        "cx22",
        (2, 4.0, 40),
        (0.0060, 3.79),
        ("shared", "x86", "cost_optimized"),
        true,
    ),
    st(
        23,
        "cx32",
        (4, 8.0, 80),
        (0.0109, 6.80),
        ("shared", "x86", "cost_optimized"),
        true,
    ),
    st(
        24,
        "cx42",
        (8, 16.0, 160),
        (0.0263, 16.40),
        ("shared", "x86", "cost_optimized"),
        true,
    ),
    st(
        25,
        "cx52",
        (16, 32.0, 320),
        (0.0519, 32.40),
        ("shared", "x86", "cost_optimized"),
        true,
    ),
    st(
        1,
        "cpx11",
        (2, 2.0, 40),
        (0.0073, 4.35),
        ("shared", "x86", "regular_purpose"),
        true,
    ),
    st(
        2,
        "cpx21",
        (3, 4.0, 80),
        (0.0121, 7.55),
        ("shared", "x86", "regular_purpose"),
        true,
    ),
    st(
        3,
        "cpx31",
        (4, 8.0, 160),
        (0.0218, 13.60),
        ("shared", "x86", "regular_purpose"),
        true,
    ),
    st(
        4,
        "cpx41",
        (8, 16.0, 240),
        (0.0403, 25.20),
        ("shared", "x86", "regular_purpose"),
        true,
    ),
    st(
        5,
        "cpx51",
        (16, 32.0, 360),
        (0.0879, 54.90),
        ("shared", "x86", "regular_purpose"),
        true,
    ),
    st(
        104,
        "cx23",
        (2, 4.0, 40),
        (0.0064, 3.99),
        ("shared", "x86", "cost_optimized"),
        false,
    ),
    st(
        105,
        "cx33",
        (4, 8.0, 80),
        (0.0104, 6.49),
        ("shared", "x86", "cost_optimized"),
        false,
    ),
    st(
        106,
        "cx43",
        (8, 16.0, 160),
        (0.0192, 11.99),
        ("shared", "x86", "cost_optimized"),
        false,
    ),
    st(
        107,
        "cx53",
        (16, 32.0, 320),
        (0.0360, 22.49),
        ("shared", "x86", "cost_optimized"),
        false,
    ),
    st(
        108,
        "cpx22",
        (2, 4.0, 80),
        (0.0128, 7.99),
        ("shared", "x86", "regular_purpose"),
        false,
    ),
    st(
        109,
        "cpx32",
        (4, 8.0, 160),
        (0.0232, 14.49),
        ("shared", "x86", "regular_purpose"),
        false,
    ),
    st(
        110,
        "cpx42",
        (8, 16.0, 320),
        (0.0408, 25.49),
        ("shared", "x86", "regular_purpose"),
        false,
    ),
    st(
        111,
        "cpx52",
        (12, 24.0, 480),
        (0.0585, 36.49),
        ("shared", "x86", "regular_purpose"),
        false,
    ),
    st(
        112,
        "cpx62",
        (16, 32.0, 640),
        (0.0809, 50.49),
        ("shared", "x86", "regular_purpose"),
        false,
    ),
    st(
        45,
        "cax11",
        (2, 4.0, 40),
        (0.0072, 4.49),
        ("shared", "arm", "cost_optimized"),
        false,
    ),
    st(
        93,
        "cax21",
        (4, 8.0, 80),
        (0.0128, 7.99),
        ("shared", "arm", "cost_optimized"),
        false,
    ),
    st(
        94,
        "cax31",
        (8, 16.0, 160),
        (0.0256, 15.99),
        ("shared", "arm", "cost_optimized"),
        false,
    ),
    st(
        95,
        "cax41",
        (16, 32.0, 320),
        (0.0505, 31.49),
        ("shared", "arm", "cost_optimized"),
        false,
    ),
    st(
        96,
        "ccx13",
        (2, 8.0, 80),
        (0.0256, 15.99),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
    st(
        97,
        "ccx23",
        (4, 16.0, 160),
        (0.0505, 31.49),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
    st(
        98,
        "ccx33",
        (8, 32.0, 240),
        (0.1001, 62.49),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
    st(
        99,
        "ccx43",
        (16, 64.0, 360),
        (0.2003, 124.99),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
    st(
        100,
        "ccx53",
        (32, 128.0, 600),
        (0.4006, 249.99),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
    st(
        101,
        "ccx63",
        (48, 192.0, 960),
        (0.6001, 374.49),
        ("dedicated", "x86", "general_purpose"),
        false,
    ),
];

pub fn find_server_type(key: &str) -> Option<&'static ServerTypeDef> {
    SERVER_TYPES
        .iter()
        .find(|t| t.name == key || t.id.to_string() == key)
}

fn price(net: f64) -> Value {
    json!({"net": format!("{net:.10}"), "gross": format!("{:.10}", net * 1.19)})
}

fn prices(hourly: f64, monthly: f64, included_tb: i64) -> Value {
    Value::Array(
        LOCATIONS
            .iter()
            .map(|l| {
                json!({
                    "location": l.name,
                    "price_hourly": price(hourly),
                    "price_monthly": price(monthly),
                    "included_traffic": included_tb * 1_099_511_627_776i64,
                    "price_per_tb_traffic": price(1.0),
                })
            })
            .collect(),
    )
}

const DEPRECATION: (&str, &str) = ("2025-09-01T00:00:00+00:00", "2026-12-31T00:00:00+00:00");

pub fn server_type_json(t: &ServerTypeDef) -> Value {
    let deprecation = if t.deprecated {
        json!({"announced": DEPRECATION.0, "unavailable_after": DEPRECATION.1})
    } else {
        Value::Null
    };
    let locations: Vec<Value> = LOCATIONS
        .iter()
        // Orderable everywhere until `unavailable_after`; a deprecated type is no longer recommended.
        .map(|l| {
            json!({"id": l.id, "name": l.name, "deprecation": deprecation,
                   "available": true, "recommended": !t.deprecated})
        })
        .collect();
    json!({
        "id": t.id,
        "name": t.name,
        "description": t.name.to_uppercase(),
        "cores": t.cores,
        "memory": t.memory,
        "disk": t.disk,
        "deprecated": t.deprecated,
        "deprecation": deprecation,
        "prices": prices(t.hourly, t.monthly, 20),
        "storage_type": "local",
        "cpu_type": t.cpu_type,
        "category": t.category,
        "architecture": t.architecture,
        "included_traffic": 21_990_232_555_520i64,
        "locations": locations,
    })
}

pub struct LoadBalancerTypeDef {
    pub id: i64,
    pub name: &'static str,
    pub max_services: i64,
    pub max_targets: i64,
    pub max_connections: i64,
    pub max_certificates: i64,
    pub hourly: f64,
    pub monthly: f64,
}

pub const LOAD_BALANCER_TYPES: &[LoadBalancerTypeDef] = &[
    LoadBalancerTypeDef {
        id: 1,
        name: "lb11",
        max_services: 5,
        max_targets: 25,
        max_connections: 10_000,
        max_certificates: 10,
        hourly: 0.0086,
        monthly: 5.39,
    },
    LoadBalancerTypeDef {
        id: 2,
        name: "lb21",
        max_services: 15,
        max_targets: 75,
        max_connections: 20_000,
        max_certificates: 25,
        hourly: 0.0264,
        monthly: 16.40,
    },
    LoadBalancerTypeDef {
        id: 3,
        name: "lb31",
        max_services: 30,
        max_targets: 150,
        max_connections: 40_000,
        max_certificates: 50,
        hourly: 0.0519,
        monthly: 32.40,
    },
];

pub fn find_load_balancer_type(key: &str) -> Option<&'static LoadBalancerTypeDef> {
    LOAD_BALANCER_TYPES
        .iter()
        .find(|t| t.name == key || t.id.to_string() == key)
}

pub fn load_balancer_type_json(t: &LoadBalancerTypeDef) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "description": format!("{} (simulated)", t.name.to_uppercase()),
        "max_services": t.max_services,
        "max_targets": t.max_targets,
        "max_connections": t.max_connections,
        "max_assigned_certificates": t.max_certificates,
        "deprecated": null,
        "prices": prices(t.hourly, t.monthly, 1),
    })
}

pub struct ImageDef {
    pub id: i64,
    pub name: &'static str,
    pub description: &'static str,
    pub os_flavor: &'static str,
    pub os_version: &'static str,
    pub architecture: &'static str,
}

pub const IMAGES: &[ImageDef] = &[
    ImageDef {
        id: 161547269,
        name: "ubuntu-24.04",
        description: "Ubuntu 24.04",
        os_flavor: "ubuntu",
        os_version: "24.04",
        architecture: "x86",
    },
    ImageDef {
        id: 161547270,
        name: "ubuntu-24.04",
        description: "Ubuntu 24.04",
        os_flavor: "ubuntu",
        os_version: "24.04",
        architecture: "arm",
    },
    ImageDef {
        id: 67794396,
        name: "ubuntu-22.04",
        description: "Ubuntu 22.04",
        os_flavor: "ubuntu",
        os_version: "22.04",
        architecture: "x86",
    },
    ImageDef {
        id: 103908070,
        name: "ubuntu-22.04",
        description: "Ubuntu 22.04",
        os_flavor: "ubuntu",
        os_version: "22.04",
        architecture: "arm",
    },
    ImageDef {
        id: 114690387,
        name: "debian-12",
        description: "Debian 12",
        os_flavor: "debian",
        os_version: "12",
        architecture: "x86",
    },
    ImageDef {
        id: 114690389,
        name: "debian-12",
        description: "Debian 12",
        os_flavor: "debian",
        os_version: "12",
        architecture: "arm",
    },
];

/// Images by name are ambiguous across architectures; `arch` picks one (x86 by default, as the
/// real API does when creating a server from a name).
pub fn find_image(key: &str, arch: &str) -> Option<&'static ImageDef> {
    IMAGES.iter().find(|i| i.id.to_string() == key).or_else(|| {
        IMAGES
            .iter()
            .find(|i| i.name == key && i.architecture == arch)
    })
}

pub fn image_json(i: &ImageDef) -> Value {
    json!({
        "id": i.id,
        "type": "system",
        "status": "available",
        "name": i.name,
        "description": i.description,
        "image_size": null,
        "disk_size": 5,
        "created": "2024-04-25T13:27:18+00:00",
        "created_from": null,
        "bound_to": null,
        "os_flavor": i.os_flavor,
        "os_version": i.os_version,
        "rapid_deploy": true,
        "protection": {"delete": false},
        "deprecated": null,
        "deleted": null,
        "labels": {},
        "architecture": i.architecture,
    })
}

/// `GET /pricing`: the whole price list (net EUR, gross with 19 % VAT).
pub fn pricing_json() -> Value {
    let per_location = |hourly: f64, monthly: f64| -> Vec<Value> {
        LOCATIONS
            .iter()
            .map(|l| {
                json!({"location": l.name, "price_hourly": price(hourly),
                       "price_monthly": price(monthly)})
            })
            .collect()
    };
    let monthly_only = |monthly: f64| -> Vec<Value> {
        LOCATIONS
            .iter()
            .map(|l| json!({"location": l.name, "price_monthly": price(monthly)}))
            .collect()
    };
    json!({"pricing": {
        "currency": "EUR",
        "vat_rate": "19.00",
        "image": {"price_per_gb_month": price(0.011)},
        "floating_ip": {"price_monthly": price(3.0)},
        "floating_ips": [
            {"type": "ipv4", "prices": monthly_only(3.0)},
            {"type": "ipv6", "prices": monthly_only(3.0)},
        ],
        "primary_ips": [
            {"type": "ipv4", "prices": per_location(0.0008, 0.5)},
            {"type": "ipv6", "prices": per_location(0.0, 0.0)},
        ],
        "server_backup": {"percentage": "20.0000000000"},
        "volume": {"price_per_gb_month": price(0.044)},
        "server_types": SERVER_TYPES.iter().map(|t| json!({
            "id": t.id, "name": t.name, "prices": prices(t.hourly, t.monthly, 20),
        })).collect::<Vec<_>>(),
        "load_balancer_types": LOAD_BALANCER_TYPES.iter().map(|t| json!({
            "id": t.id, "name": t.name, "prices": prices(t.hourly, t.monthly, 1),
        })).collect::<Vec<_>>(),
    }})
}
