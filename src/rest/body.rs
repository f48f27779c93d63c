//! JSON request bodies, read one field at a time so that every error names the field it is
//! about (`project_id`, `source`, `resource`...), as the API's `details[].argument_name` does.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ArgumentReason, Error};
use crate::rest::{body_too_large, clip_to, Response, MAX_BODY_BYTES};

/// The top-level object of a request body.
pub(crate) struct Body(Map<String, Value>);

impl Body {
    /// Parses a body: empty means `{}`; anything but a JSON object is `invalid_arguments`.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Box<Response>> {
        if bytes.len() > MAX_BODY_BYTES {
            return Err(Box::new(body_too_large(bytes.len())));
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(Map::new()));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(other) => Err(Box::new(Response::error(&invalid(
                "body",
                ArgumentReason::Format,
                format!("the body must be a JSON object, found {}", kind(&other)),
            )))),
            Err(e) => Err(Box::new(Response::error(&invalid(
                "body",
                ArgumentReason::Format,
                format!("the body is not valid JSON: {e}"),
            )))),
        }
    }

    /// A field that must be present and not `null`.
    pub(crate) fn required<T: DeserializeOwned>(&mut self, key: &'static str) -> Result<T, Error> {
        self.optional(key)?
            .ok_or_else(|| invalid(key, ArgumentReason::Required, format!("{key} is required")))
    }

    /// A field where absent and `null` both mean `None`.
    pub(crate) fn optional<T: DeserializeOwned>(
        &mut self,
        key: &'static str,
    ) -> Result<Option<T>, Error> {
        match self.0.remove(key) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => {
                let address_with_mask =
                    key == "address" && value.as_str().is_some_and(|s| s.contains('/'));
                T::deserialize(value).map(Some).map_err(|e| {
                    let help = if address_with_mask {
                        "address must be a bare IP address, without a /mask".to_owned()
                    } else {
                        format!("{key} is malformed: {}", clip_to(&e.to_string(), 200))
                    };
                    invalid(key, ArgumentReason::Format, help)
                })
            }
        }
    }

    /// A field where absent and `null` both mean the type's default (`false`, `[]`).
    pub(crate) fn or_default<T: DeserializeOwned + Default>(
        &mut self,
        key: &'static str,
    ) -> Result<T, Error> {
        self.optional(key).map(Option::unwrap_or_default)
    }
}

/// An `invalid_arguments` error.
pub(crate) fn invalid(argument: &'static str, reason: ArgumentReason, help: String) -> Error {
    Error::InvalidArgument {
        argument: argument.into(),
        reason,
        help,
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
