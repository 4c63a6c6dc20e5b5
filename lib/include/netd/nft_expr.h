/* nft_expr.h — the nftables expressions a table module's rules are made
 * of (libnftnl objects; add them with netd_nft_rule_add, nft_table.h). Each
 * returns NULL when out of memory. Registers are NFT_REG_* / NFT_REG32_*.
 */
#ifndef NETD_NFT_EXPR_H
#define NETD_NFT_EXPR_H

#include <stdint.h>

struct nftnl_expr;

/* meta KEY (NFT_META_NFPROTO, NFT_META_IIFNAME, ...) into dreg */
struct nftnl_expr *netd_nft_e_meta(uint32_t key, uint32_t dreg);
/* sreg == data */
struct nftnl_expr *netd_nft_e_cmp(uint32_t sreg, const void *data, uint32_t len);
/* sreg OP data (NFT_CMP_NEQ, ...) */
struct nftnl_expr *netd_nft_e_cmp_op(uint32_t sreg, uint32_t op, const void *data, uint32_t len);
/* base NFT_PAYLOAD_NETWORK_HEADER, NFT_PAYLOAD_LL_HEADER, ... */
struct nftnl_expr *netd_nft_e_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg);
struct nftnl_expr *netd_nft_e_mask(uint32_t reg, const void *mask, uint32_t len);
/* sreg in @set; flags 0 or NFT_LOOKUP_F_INV */
struct nftnl_expr *netd_nft_e_lookup(uint32_t sreg, const char *set, uint32_t flags);
/* dreg = @map[sreg] */
struct nftnl_expr *netd_nft_e_map(uint32_t sreg, const char *map, uint32_t dreg);
/* NFT_RETURN, NF_DROP, NF_ACCEPT, ... */
struct nftnl_expr *netd_nft_e_verdict(int verdict);
struct nftnl_expr *netd_nft_e_jump(const char *chain);
/* dreg = data */
struct nftnl_expr *netd_nft_e_immediate(uint32_t dreg, const void *data, uint32_t len);
/* fib daddr type into dreg (RTN_LOCAL, ...) */
struct nftnl_expr *netd_nft_e_fib_daddr_type(uint32_t dreg);
/* ct KEY (NFT_CT_STATE, NFT_CT_STATUS, ...) into dreg */
struct nftnl_expr *netd_nft_e_ct(uint32_t key, uint32_t dreg);
/* dnat to the address in reg_addr, port in reg_port; flags 0 or
 * NF_NAT_RANGE_MAP_IPS | NF_NAT_RANGE_PROTO_SPECIFIED (what the kernel
 * reports back either way) */
struct nftnl_expr *netd_nft_e_dnat(uint32_t nfproto, uint32_t reg_addr, uint32_t reg_port, uint32_t flags);

#endif
