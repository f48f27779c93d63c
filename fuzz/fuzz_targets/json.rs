//! Raw bytes into every request type's deserializer and the MAC / id / enum parsers: never a
//! panic, and whatever parses serializes back to something that parses to the same value.
#![no_main]

use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource, Ip, IpId,
    MacAddress, MoveIpRequest, OrderBy, Region, ResourceType, UpdateIpRequest,
};
use libfuzzer_sys::fuzz_target;

fn roundtrip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    if let Ok(v) = serde_json::from_slice::<T>(data) {
        let text = serde_json::to_string(&v).expect("serializable");
        let back: T = serde_json::from_str(&text).expect("re-parses");
        assert_eq!(back, v);
    }
}

fuzz_target!(|data: &[u8]| {
    roundtrip::<BookIpRequest>(data);
    roundtrip::<UpdateIpRequest>(data);
    roundtrip::<MoveIpRequest>(data);
    roundtrip::<CustomResource>(data);
    roundtrip::<CreatePrivateNetworkRequest>(data);
    roundtrip::<CreateVpcRequest>(data);
    roundtrip::<Ip>(data);
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(mac) = s.parse::<MacAddress>() {
            assert_eq!(mac.to_string().parse::<MacAddress>().ok(), Some(mac));
        }
        let _ = s.parse::<IpId>();
        let _ = s.parse::<Region>();
        let _ = s.parse::<ResourceType>();
        let _ = s.parse::<OrderBy>();
    }
});
