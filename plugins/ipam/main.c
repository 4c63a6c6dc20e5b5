/* netd-ipam: host-local-compatible IPAM plugin. The allocator is lib/ipam.c,
 * the CNI commands lib/ipam_cni.c (also run in-process by main plugins, see
 * lib/attach.c). See docs/netd-ipam.md. */
#include "netd/cni.h"
#include "netd/ipam.h"

int main(void)
{
	return cni_main(&netd_ipam_plugin);
}
