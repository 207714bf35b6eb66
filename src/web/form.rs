//! The dashboard's forms (`application/x-www-form-urlencoded`, as a browser posts them),
//! decoded here rather than by another dependency: [`Form`] reads the body into [`Fields`]
//! and builds the handler's type from them ([`FromFields`]). A required field missing
//! answers `422`; a field given twice counts by its first value.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// A form's fields in the order posted.
pub struct Fields(Vec<(String, String)>);

/// Hand-written: a form may carry a password; only its names are shown.
impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            body.split(|b| *b == b'&')
                .filter(|pair| !pair.is_empty())
                .map(|pair| {
                    let mut kv = pair.splitn(2, |b| *b == b'=');
                    let k = decode(kv.next().unwrap_or_default());
                    let v = decode(kv.next().unwrap_or_default());
                    (k, v)
                })
                .collect(),
        )
    }

    /// The field's value, or the empty string.
    pub fn get(&self, name: &str) -> String {
        self.required(name).unwrap_or_default()
    }

    /// The fields whose names start with `prefix`, the prefix taken off, in the order
    /// posted (a name given twice counts by its first value).
    pub fn with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in &self.0 {
            if let Some(name) = k.strip_prefix(prefix)
                && !out.iter().any(|(n, _)| n == name)
            {
                out.push((name.to_owned(), v.clone()));
            }
        }
        out
    }

    /// The field's value; `Err` names it when it is missing.
    pub fn required(&self, name: &str) -> Result<String, String> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| name.to_owned())
    }
}

/// `+` is a space, `%XX` a byte; a `%` not followed by two hex digits stays as it is.
fn decode(s: &[u8]) -> String {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
        match (s[i], hex(s.get(i + 1)), hex(s.get(i + 2))) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits: below 256 by construction.
                out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What a handler's form type is built from.
pub trait FromFields: Sized {
    /// `Err` names a required field that is missing.
    fn from_fields(f: &Fields) -> Result<Self, String>;
}

/// The extractor: the body decoded into `T`.
#[derive(Debug)]
pub struct Form<T>(pub T);

impl<S: Send + Sync, T: FromFields> FromRequest<S> for Form<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        T::from_fields(&Fields::parse(&body))
            .map(Form)
            .map_err(|missing| {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("the form has no `{missing}`\n"),
                )
                    .into_response()
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn forms_decode_as_browsers_encode_them() {
        let f = Fields::parse(b"name=%E4%BD%90%E8%97%A4&password=a+b%26c%3Dd&x=&y&bad=%zz%4");
        assert_eq!(f.get("name"), "佐藤");
        assert_eq!(f.get("password"), "a b&c=d");
        assert_eq!(f.required("x"), Ok(String::new()));
        assert_eq!(f.required("y"), Ok(String::new()));
        assert_eq!(f.get("bad"), "%zz%4");
        assert_eq!(f.required("csrf"), Err("csrf".to_owned()));
        assert_eq!(format!("{f:?}"), r#"["name", "password", "x", "y", "bad"]"#);
        let p = Fields::parse(b"p.month=2026-10&job=x&p.dept=%3B+rm&p.month=again");
        assert_eq!(
            p.with_prefix("p."),
            [
                ("month".into(), "2026-10".into()),
                ("dept".into(), "; rm".into())
            ]
        );
    }
}
