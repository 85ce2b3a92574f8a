/* dnsconf on macOS: a DNS entity of our own in configd's dynamic store
 * (dnsconf.h), through the SystemConfiguration framework's documented
 * calls (SCDynamicStore.h, SCDynamicStoreKey.h, SCSchemaDefinitions.h).
 * Not compiled or run on a Mac yet. */
#include "tun2socks/system/dnsconf.h"
#include "tun2socks/base/errtext.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <CoreFoundation/CoreFoundation.h>
#include <SystemConfiguration/SystemConfiguration.h>

struct dnsconf {
	SCDynamicStoreRef store;
	CFStringRef key;
	bool added; /* the key is ours to remove */
};

/* The DNS entity: ServerAddresses, SupplementalMatchDomains [""] (every
 * name), SearchOrder 1. NULL when out of memory. */
static CFDictionaryRef dns_entity(const char *const *servers, size_t n)
{
	CFMutableDictionaryRef dict = NULL;
	CFMutableArrayRef addrs = NULL;
	CFArrayRef match = NULL;
	CFNumberRef order = NULL;
	const void *every = CFSTR("");
	int one = 1;
	bool ok = true;

	addrs = CFArrayCreateMutable(kCFAllocatorDefault, 0, &kCFTypeArrayCallBacks);
	match = CFArrayCreate(kCFAllocatorDefault, &every, 1, &kCFTypeArrayCallBacks);
	order = CFNumberCreate(kCFAllocatorDefault, kCFNumberIntType, &one);
	dict = CFDictionaryCreateMutable(kCFAllocatorDefault, 0, &kCFTypeDictionaryKeyCallBacks,
					 &kCFTypeDictionaryValueCallBacks);
	if (addrs == NULL || match == NULL || order == NULL || dict == NULL) {
		ok = false;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		CFStringRef s = CFStringCreateWithCString(kCFAllocatorDefault, servers[i],
							  kCFStringEncodingUTF8);

		if (s == NULL) {
			ok = false;
			goto out;
		}
		CFArrayAppendValue(addrs, s);
		CFRelease(s);
	}
	CFDictionarySetValue(dict, kSCPropNetDNSServerAddresses, addrs);
	CFDictionarySetValue(dict, kSCPropNetDNSSupplementalMatchDomains, match);
	CFDictionarySetValue(dict, kSCPropNetDNSSearchOrder, order);
out:
	if (addrs)
		CFRelease(addrs);
	if (match)
		CFRelease(match);
	if (order)
		CFRelease(order);
	if (!ok && dict) {
		CFRelease(dict);
		dict = NULL;
	}
	return dict;
}

bool dnsconf_supported(void)
{
	return true;
}

int dnsconf_start(const char *tun, const char *const *servers, size_t n, struct dnsconf **out,
		  char *err, size_t errlen)
{
	struct dnsconf *dc;
	CFStringRef service = NULL;
	CFDictionaryRef dict = NULL;
	int r = 0;

	*out = NULL;
	dc = calloc(1, sizeof(*dc));
	if (dc == NULL)
		return -ENOMEM;
	dc->store = SCDynamicStoreCreate(kCFAllocatorDefault, CFSTR("tun2socks"), NULL, NULL);
	if (dc->store == NULL) {
		errtext_set(err, errlen, "SCDynamicStoreCreate: %s", SCErrorString(SCError()));
		r = -EIO;
		goto out;
	}
	service = CFStringCreateWithFormat(kCFAllocatorDefault, NULL, CFSTR("tun2socks-%s"), tun);
	if (service)
		dc->key = SCDynamicStoreKeyCreateNetworkServiceEntity(
			kCFAllocatorDefault, kSCDynamicStoreDomainState, service, kSCEntNetDNS);
	dict = dns_entity(servers, n);
	if (service == NULL || dc->key == NULL || dict == NULL) {
		errtext_set(err, errlen, "out of memory");
		r = -ENOMEM;
		goto out;
	}
	/* Temporary: configd removes it when this session ends, even if the
	 * daemon is killed. Refused when the key exists. */
	if (!SCDynamicStoreAddTemporaryValue(dc->store, dc->key, dict)) {
		errtext_set(err, errlen,
			    "cannot set State:/Network/Service/tun2socks-%s/DNS: %s (is another "
			    "tun2socks running with this TUN?)",
			    tun, SCErrorString(SCError()));
		r = -EEXIST;
		goto out;
	}
	dc->added = true;
out:
	if (service)
		CFRelease(service);
	if (dict)
		CFRelease(dict);
	if (r < 0) {
		dnsconf_stop(dc);
		return r;
	}
	*out = dc;
	return 0;
}

void dnsconf_stop(struct dnsconf *dc)
{
	if (dc == NULL)
		return;
	if (dc->added)
		(void)SCDynamicStoreRemoveValue(dc->store, dc->key);
	if (dc->key)
		CFRelease(dc->key);
	if (dc->store)
		CFRelease(dc->store);
	free(dc);
}
