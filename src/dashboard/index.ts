// The web dashboard's server side: the plugin that serves the app and its login sessions.
export { dashboardPlugin, CSRF_HEADER, type Dashboard, type DashboardOptions, type DashboardPrincipal } from './plugin.js';
export { SESSION_COOKIE } from './sessions.js';
export { findWebRoot } from './static.js';
