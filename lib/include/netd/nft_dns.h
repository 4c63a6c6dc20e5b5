/* nft_dns.h — the DNS redirect table inside a container's netns.
 *
 * netd's resolver listens on 127.0.0.11 at ports the kernel picks, so that
 * the container keeps :53 for a server of its own; this table, `ip
 * netd_dns`, sends what the container addresses to 127.0.0.11:53 there:
 *
 *   chain output { type nat hook output priority -100;
 *     ip daddr 127.0.0.11 udp dport 53 dnat to 127.0.0.11:UDP_PORT
 *     ip daddr 127.0.0.11 tcp dport 53 dnat to 127.0.0.11:TCP_PORT }
 *
 * Conntrack turns the answers' source port back into 53. Setting it again
 * (new ports) replaces both rules in one batch. A restarted netd reads the
 * ports back instead (netd_nft_dns_read) and binds them again, so a table
 * that is still exactly right costs three reads and no batch: the batch's
 * rule replacement, whose socket's release then waits for an RCU grace
 * period, was most of a listener's cost (1-3 ms on a busy host). netd
 * removes the table when the container's last endpoint goes (a netns being
 * deleted takes it along anyway); nobody else writes to it, so no lock.
 */
#ifndef NETD_NFT_DNS_H
#define NETD_NFT_DNS_H

#include <stdint.h>

#include "netd/err.h"

#define NETD_NFT_DNS_TABLE "netd_dns"

/* Install or update the table in netns nsfd (-1: here). Ports in host order. */
int netd_nft_dns_redirect(int nsfd, uint16_t udp_port, uint16_t tcp_port, struct netd_err *err);

/* The ports of the table in netns nsfd (-1: here), if it is exactly the
 * table netd_nft_dns_redirect() writes for them: 1, ports set. 0 when it
 * is missing or differs in any way (a rule more or less, another
 * expression, another hook or priority for the chain); <0 error. */
int netd_nft_dns_read(int nsfd, uint16_t *udp_port, uint16_t *tcp_port, struct netd_err *err);

/* Remove the table from netns nsfd (-1: here); no table is no error. */
int netd_nft_dns_remove(int nsfd, struct netd_err *err);

#endif
