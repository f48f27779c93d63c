//! The API's vocabulary: ids, values, the objects it returns and the requests it takes, with the
//! exact JSON wire form. Nothing here knows how IPs are stored or allocated.

pub(crate) mod enums;
pub(crate) mod ids;
pub(crate) mod ip;
pub(crate) mod mac;
pub(crate) mod network;
pub(crate) mod request;
pub(crate) mod tags;
pub(crate) mod time;
