/* nft_expr.c — libnftnl expressions as the table modules use them, each
 * built the way the kernel reports it back (so the fixed-rule drift check
 * in nft_table.c compares like with like). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <libnftnl/expr.h>

#include "netd/nft_expr.h"

/* Most expressions are a name and a few 32-bit attributes: one builder takes
 * them as a list, so each expression below says only which attributes it sets. */
struct u32_attr {
	uint16_t type;
	uint32_t val;
};

static struct nftnl_expr *expr_u32(const char *name, const struct u32_attr *a, size_t n)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	for (size_t i = 0; e && i < n; i++)
		nftnl_expr_set_u32(e, a[i].type, a[i].val);
	return e;
}

#define EXPR(name, ...)                                                                            \
	expr_u32(name, (const struct u32_attr[]){__VA_ARGS__},                                     \
		 sizeof((const struct u32_attr[]){__VA_ARGS__}) / sizeof(struct u32_attr))

/* e with one more attribute of len bytes; NULL stays NULL */
static struct nftnl_expr *with_data(struct nftnl_expr *e, uint16_t type, const void *data, uint32_t len)
{
	if (e)
		nftnl_expr_set(e, type, data, len);
	return e;
}

static struct nftnl_expr *with_str(struct nftnl_expr *e, uint16_t type, const char *s)
{
	if (e)
		nftnl_expr_set_str(e, type, s);
	return e;
}

struct nftnl_expr *netd_nft_e_meta(uint32_t key, uint32_t dreg)
{
	return EXPR("meta", {NFTNL_EXPR_META_KEY, key}, {NFTNL_EXPR_META_DREG, dreg});
}

struct nftnl_expr *netd_nft_e_cmp_op(uint32_t sreg, uint32_t op, const void *data, uint32_t len)
{
	return with_data(EXPR("cmp", {NFTNL_EXPR_CMP_SREG, sreg}, {NFTNL_EXPR_CMP_OP, op}),
			 NFTNL_EXPR_CMP_DATA, data, len);
}

struct nftnl_expr *netd_nft_e_cmp(uint32_t sreg, const void *data, uint32_t len)
{
	return netd_nft_e_cmp_op(sreg, NFT_CMP_EQ, data, len);
}

struct nftnl_expr *netd_nft_e_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	return EXPR("payload", {NFTNL_EXPR_PAYLOAD_BASE, base}, {NFTNL_EXPR_PAYLOAD_OFFSET, off},
		    {NFTNL_EXPR_PAYLOAD_LEN, len}, {NFTNL_EXPR_PAYLOAD_DREG, dreg});
}

struct nftnl_expr *netd_nft_e_mask(uint32_t reg, const void *mask, uint32_t len)
{
	static const uint8_t zero[16];
	struct nftnl_expr *e = EXPR("bitwise", {NFTNL_EXPR_BITWISE_SREG, reg}, {NFTNL_EXPR_BITWISE_DREG, reg},
				    {NFTNL_EXPR_BITWISE_LEN, len});

	return with_data(with_data(e, NFTNL_EXPR_BITWISE_MASK, mask, len), NFTNL_EXPR_BITWISE_XOR, zero, len);
}

struct nftnl_expr *netd_nft_e_lookup(uint32_t sreg, const char *set, uint32_t flags)
{
	/* flags set even when 0: the kernel reports them */
	return with_str(EXPR("lookup", {NFTNL_EXPR_LOOKUP_SREG, sreg}, {NFTNL_EXPR_LOOKUP_FLAGS, flags}),
			NFTNL_EXPR_LOOKUP_SET, set);
}

struct nftnl_expr *netd_nft_e_map(uint32_t sreg, const char *map, uint32_t dreg)
{
	return with_str(EXPR("lookup", {NFTNL_EXPR_LOOKUP_SREG, sreg}, {NFTNL_EXPR_LOOKUP_DREG, dreg}),
			NFTNL_EXPR_LOOKUP_SET, map);
}

struct nftnl_expr *netd_nft_e_verdict(int verdict)
{
	return EXPR("immediate", {NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT}, {NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict});
}

struct nftnl_expr *netd_nft_e_jump(const char *chain)
{
	return with_str(netd_nft_e_verdict(NFT_JUMP), NFTNL_EXPR_IMM_CHAIN, chain);
}

struct nftnl_expr *netd_nft_e_immediate(uint32_t dreg, const void *data, uint32_t len)
{
	return with_data(EXPR("immediate", {NFTNL_EXPR_IMM_DREG, dreg}), NFTNL_EXPR_IMM_DATA, data, len);
}

struct nftnl_expr *netd_nft_e_fib_daddr_type(uint32_t dreg)
{
	return EXPR("fib", {NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_DADDR}, {NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_ADDRTYPE},
		    {NFTNL_EXPR_FIB_DREG, dreg});
}

struct nftnl_expr *netd_nft_e_ct(uint32_t key, uint32_t dreg)
{
	return EXPR("ct", {NFTNL_EXPR_CT_KEY, key}, {NFTNL_EXPR_CT_DREG, dreg});
}

struct nftnl_expr *netd_nft_e_dnat(uint32_t nfproto, uint32_t reg_addr, uint32_t reg_port, uint32_t flags)
{
	/* the kernel reports max = min back: said here too, so a rule read
	 * back compares equal (netd_nft_rules_ok) */
	struct nftnl_expr *e = EXPR("nat", {NFTNL_EXPR_NAT_TYPE, NFT_NAT_DNAT}, {NFTNL_EXPR_NAT_FAMILY, nfproto},
				    {NFTNL_EXPR_NAT_REG_ADDR_MIN, reg_addr}, {NFTNL_EXPR_NAT_REG_ADDR_MAX, reg_addr},
				    {NFTNL_EXPR_NAT_REG_PROTO_MIN, reg_port}, {NFTNL_EXPR_NAT_REG_PROTO_MAX, reg_port});

	if (e && flags)
		nftnl_expr_set_u32(e, NFTNL_EXPR_NAT_FLAGS, flags);
	return e;
}
