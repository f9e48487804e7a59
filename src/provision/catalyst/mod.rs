//! catalyst-api and PDM clients (reqwest): routes, SSE reader, the deployment event fold.
