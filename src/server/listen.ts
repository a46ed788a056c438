// The listen backlog every FastGPU server uses (one server, or each of several over Postgres).
/**
 * Connections the kernel may hold complete but not yet accepted (capped by net.core.somaxconn).
 * Node's 511 overflowed at 1,000 agents: a server late by half a second (a busy host) meets
 * hundreds of agents opening sockets at once, and the kernel resets what its queue cannot hold
 * (bench:scale counted 13,089 overflows and 246 resets, all on new sockets).
 */
export const LISTEN_BACKLOG = 4096;
