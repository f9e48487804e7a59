//! Query strings (repeated keys allowed, as `id=1&id=2`), pagination `meta` and sorting.

use serde_json::{Value, json};

use super::error::{ApiError, ApiResult};
use super::labels::LabelSelector;

/// The decoded query string, keys in order of appearance.
#[derive(Debug, Clone, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key; comma lists count as several values too.
    pub fn get_all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .collect()
    }

    pub fn label_selector(&self) -> ApiResult<Option<LabelSelector>> {
        match self.get("label_selector") {
            None => Ok(None),
            Some(raw) => LabelSelector::parse(raw)
                .map(Some)
                .map_err(|e| ApiError::invalid_input("label_selector", e)),
        }
    }

    fn positive(&self, key: &str, default: i64) -> ApiResult<i64> {
        match self.get(key) {
            None => Ok(default),
            Some(raw) => match raw.parse::<i64>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(ApiError::invalid_input(
                    key,
                    format!("'{raw}' is not a positive integer"),
                )),
            },
        }
    }
}

pub const DEFAULT_PER_PAGE: i64 = 25;
pub const MAX_PER_PAGE: i64 = 50;

/// Cut one page out of `items` and build `meta.pagination` as the real API does.
pub fn paginate(items: Vec<Value>, q: &Query) -> ApiResult<(Vec<Value>, Value)> {
    let page = q.positive("page", 1)?;
    let per_page = q.positive("per_page", DEFAULT_PER_PAGE)?.min(MAX_PER_PAGE);
    let total = items.len() as i64;
    let last_page = ((total + per_page - 1) / per_page).max(1);
    let start = ((page - 1) * per_page) as usize;
    let slice: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(per_page as usize)
        .collect();
    let meta = json!({"pagination": {
        "page": page,
        "per_page": per_page,
        "previous_page": if page > 1 { json!(page - 1) } else { Value::Null },
        "next_page": if page < last_page { json!(page + 1) } else { Value::Null },
        "last_page": last_page,
        "total_entries": total,
    }});
    Ok((slice, meta))
}

/// Apply `sort=field[:asc|:desc]` (repeatable; first key wins ties last). Unknown fields are an
/// input error like in the real API.
pub fn sort_items(items: &mut [Value], q: &Query, allowed: &[&str]) -> ApiResult<()> {
    let keys = q.get_all("sort");
    for key in keys.iter().rev() {
        let (field, desc) = match key.split_once(':') {
            Some((f, "asc")) => (f, false),
            Some((f, "desc")) => (f, true),
            Some(_) => {
                return Err(ApiError::invalid_input(
                    "sort",
                    format!("invalid sort '{key}'"),
                ));
            }
            None => (key.as_str(), false),
        };
        if !allowed.contains(&field) {
            return Err(ApiError::invalid_input(
                "sort",
                format!("cannot sort by '{field}'"),
            ));
        }
        items.sort_by(|a, b| {
            let ord = compare(&a[field], &b[field]);
            if desc { ord.reverse() } else { ord }
        });
    }
    Ok(())
}

fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or_default()
            .total_cmp(&y.as_f64().unwrap_or_default()),
        _ => a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pagination_meta() {
        let items: Vec<Value> = (1..=7).map(|i| json!({ "id": i })).collect();
        let q = Query::parse(Some("page=2&per_page=3"));
        let (page, meta) = paginate(items.clone(), &q).unwrap();
        assert_eq!(
            page,
            vec![json!({"id":4}), json!({"id":5}), json!({"id":6})]
        );
        assert_eq!(meta["pagination"]["previous_page"], 1);
        assert_eq!(meta["pagination"]["next_page"], 3);
        assert_eq!(meta["pagination"]["last_page"], 3);
        assert_eq!(meta["pagination"]["total_entries"], 7);
        let (_, meta) = paginate(items, &Query::parse(Some("page=3&per_page=3"))).unwrap();
        assert_eq!(meta["pagination"]["next_page"], Value::Null);
        assert!(paginate(vec![], &Query::parse(Some("page=0"))).is_err());
    }

    #[test]
    fn repeated_and_comma_values() {
        let q = Query::parse(Some("id=1&id=2,3&label_selector=a%3Db"));
        assert_eq!(q.get_all("id"), vec!["1", "2", "3"]);
        assert_eq!(q.get("label_selector"), Some("a=b"));
    }
}
