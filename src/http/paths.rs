//! One entry per path in the spec. The operations of one path may live in several tag modules
//! (`GET /api/admin/users` lists, in [`super::admin_lists`], the buyers `POST
//! /api/admin/users` creates, in [`super::admin`]). poem-openapi routes every one of them,
//! but its spec writes one `paths` entry per module and path, and a JSON reader keeps only the
//! last of two equal keys: the other operations would vanish from the documentation.
//! [`MergedPaths`] lists every operation of a path under its one entry.

use std::collections::HashMap;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, MetaPath, Registry};

/// The APIs of `T`, with the operations of each path under one entry of the spec.
pub struct MergedPaths<T>(pub T);

impl<T: OpenApi> OpenApi for MergedPaths<T> {
    fn meta() -> Vec<MetaApi> {
        merge(T::meta())
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, route_table: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {
        self.0.add_routes(route_table);
    }
}

/// The paths of every API in the order they first come, each with all its operations.
fn merge(apis: Vec<MetaApi>) -> Vec<MetaApi> {
    let mut paths: Vec<MetaPath> = Vec::new();
    for path in apis.into_iter().flat_map(|api| api.paths) {
        match paths.iter_mut().find(|p| p.path == path.path) {
            Some(known) => known.operations.extend(path.operations),
            None => paths.push(path),
        }
    }
    vec![MetaApi { paths }]
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_served_by_two_modules_lists_the_operations_of_both() {
        let spec: serde_json::Value = serde_json::from_str(&super::super::spec_json()).unwrap();
        let users = &spec["paths"]["/api/admin/users"];
        assert!(
            users["post"].is_object() && users["get"].is_object(),
            "{users}"
        );
        let show = &spec["paths"]["/api/admin/schedules/{scheduleId}"];
        for method in ["get", "patch", "delete"] {
            assert!(show[method].is_object(), "{method}: {show}");
        }
    }
}
