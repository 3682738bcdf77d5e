/* pki: a small CA for berthd's HTTPS listeners, on OpenSSL 3's libcrypto
 * (contract in pki.h). */
#include "pki-internal.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define DAY_S          (24 * 60 * 60)
#define BACKDATE_S     (5 * 60) /* notBefore: tolerate clients whose clock is a little behind */
#define SERIAL_BYTES   16
#define SANS_DEFAULT   4 /* host name, localhost, 127.0.0.1, ::1 */
#define TOKEN_TEXT_MAX 256

static void x509_freep(X509 **p)
{
        X509_free(*p);
}
static void pkey_freep(EVP_PKEY **p)
{
        EVP_PKEY_free(*p);
}
static void bio_freep(BIO **p)
{
        BIO_free(*p);
}
static void x509_name_freep(X509_NAME **p)
{
        X509_NAME_free(*p);
}
static void general_names_freep(GENERAL_NAMES **p)
{
        GENERAL_NAMES_free(*p);
}

/* A file's bytes, wiped before they are freed (they may be a key). */
struct blob {
        char *data;
        size_t len;
};

static void blob_release(struct blob *b)
{
        if (b->data) {
                explicit_bzero(b->data, b->len);
                free(b->data);
        }
        *b = (struct blob){0};
}

const char *pki_ssl_reason(char *buf, size_t size)
{
        unsigned long e = ERR_peek_last_error();
        const char *reason = e ? ERR_reason_error_string(e) : NULL;

        snprintf(buf, size, "%s", reason ? reason : "unknown OpenSSL error");
        ERR_clear_error();
        return buf;
}

int pki_no_passphrase(char *buf _unused_, int size _unused_, int rwflag _unused_,
                      void *userdata _unused_)
{
        return 0;
}

/* ---- files ---------------------------------------------------------------- */

/* path's bytes (NUL-terminated) into *ret. -ENOENT without touching err when
 * it does not exist; any other failure names the file. */
static int read_file(const char *path, struct blob *ret, struct berth_error *err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return -ENOENT;
                return berth_error_set(err, -errno, "%s: %s", path, strerror(errno));
        }
        struct stat st;
        if (fstat(fd, &st) < 0)
                return berth_error_set(err, -errno, "%s: %s", path, strerror(errno));
        if (!S_ISREG(st.st_mode))
                return berth_error_set(err, -EINVAL, "%s: not a regular file", path);
        if (st.st_size > PKI_FILE_MAX)
                return berth_error_set(err, -EFBIG, "%s: larger than %d bytes", path, PKI_FILE_MAX);

        struct blob b = {.data = malloc((size_t)st.st_size + 1)};
        if (!b.data)
                return berth_error_set(err, -ENOMEM, "out of memory");
        /* The file may have grown since fstat: read at most what was allotted. */
        while (b.len < (size_t)st.st_size) {
                ssize_t k = read(fd, b.data + b.len, (size_t)st.st_size - b.len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = errno;
                        blob_release(&b);
                        return berth_error_set(err, -e, "%s: %s", path, strerror(e));
                }
                if (k == 0)
                        break;
                b.len += (size_t)k;
        }
        b.data[b.len] = '\0';
        *ret = b;
        return 0;
}

/* Best effort: makes a rename in path's directory durable. */
static void sync_parent(const char *path)
{
        const char *slash = strrchr(path, '/');
        _cleanup_free_ char *dir = !slash          ? strdup(".")
                                   : slash == path ? strdup("/")
                                                   : strndup(path, (size_t)(slash - path));
        if (!dir)
                return;
        _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                (void)fsync(fd);
}

/* Writes data to a temporary file beside path (mode), syncs it and renames it
 * over path: readers see the old content or the new one. */
static int write_file_atomic(const char *path, mode_t mode, const void *data, size_t len,
                             struct berth_error *err)
{
        _cleanup_free_ char *tmp = str_printf("%s.tmp.XXXXXX", path);
        if (!tmp)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return berth_error_set(err, -errno, "%s: create a temporary file: %s", path,
                                       strerror(errno));
        int r = fchmod(fd, mode) < 0 ? -errno : 0;
        for (size_t off = 0; r == 0 && off < len;) {
                ssize_t k = write(fd, (const char *)data + off, len - off);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        r = -errno;
                else
                        off += (size_t)k;
        }
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (close(fd) < 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return berth_error_set(err, r, "write %s: %s", path, strerror(-r));
        }
        sync_parent(path);
        return 0;
}

static int load_cert(const char *path, X509 **ret, struct berth_error *err)
{
        _cleanup_(blob_release) struct blob b = {0};
        int r = read_file(path, &b, err);
        if (r < 0)
                return r;
        _cleanup_(bio_freep) BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (!bio)
                return berth_error_set(err, -ENOMEM, "out of memory");
        X509 *x = PEM_read_bio_X509(bio, NULL, pki_no_passphrase, NULL);
        if (!x) {
                char why[128];
                return berth_error_set(err, -EINVAL, "%s: not a PEM certificate (%s)", path,
                                       pki_ssl_reason(why, sizeof(why)));
        }
        *ret = x;
        return 0;
}

static int load_key(const char *path, EVP_PKEY **ret, struct berth_error *err)
{
        _cleanup_(blob_release) struct blob b = {0};
        int r = read_file(path, &b, err);
        if (r < 0)
                return r;
        _cleanup_(bio_freep) BIO *bio = BIO_new_mem_buf(b.data, (int)b.len);
        if (!bio)
                return berth_error_set(err, -ENOMEM, "out of memory");
        EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, pki_no_passphrase, NULL);
        if (!k) {
                char why[128];
                return berth_error_set(err, -EINVAL, "%s: not an unencrypted PEM private key (%s)",
                                       path, pki_ssl_reason(why, sizeof(why)));
        }
        *ret = k;
        return 0;
}

/* A certificate (mode 0644) or a key (0600; through memory that OpenSSL wipes
 * when it is freed) as PEM. */
static int write_pem(const char *path, X509 *cert, EVP_PKEY *key, struct berth_error *err)
{
        _cleanup_(bio_freep) BIO *bio = BIO_new(key ? BIO_s_secmem() : BIO_s_mem());
        char why[128];
        if (!bio)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int ok = key ? PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_X509(bio, cert);
        if (!ok)
                return berth_error_set(err, -ENOMEM, "%s: encode PEM: %s", path,
                                       pki_ssl_reason(why, sizeof(why)));
        char *data = NULL;
        long len = BIO_get_mem_data(bio, &data);
        if (len <= 0 || !data)
                return berth_error_set(err, -ENOMEM, "%s: encode PEM", path);
        return write_file_atomic(path, key ? 0600 : 0644, data, (size_t)len, err);
}

/* ---- subject alternative names -------------------------------------------- */

struct san {
        bool ip;
        unsigned char addr[16];
        size_t addr_len;
        char dns[PKI_DNS_NAME_MAX + 1]; /* lower case */
};

struct san_list {
        struct san v[PKI_EXTRA_SANS_MAX + SANS_DEFAULT];
        size_t n;
};

/* Letters, digits, '-' in labels of 1..63 bytes separated by '.', and an
 * optional leading "*." label. */
static bool dns_name_valid(const char *s)
{
        size_t len = strlen(s), label = 0;

        if (len == 0 || len > PKI_DNS_NAME_MAX)
                return false;
        if (str_has_prefix(s, "*."))
                s += 2;
        if (!*s)
                return false;
        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        if (label == 0 || label > 63 || p[-1] == '-' || p[-label] == '-')
                                return false;
                        if (*p == '\0')
                                return true;
                        label = 0;
                        continue;
                }
                bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                          (*p >= '0' && *p <= '9') || *p == '-';
                if (!ok)
                        return false;
                label++;
        }
}

/* An IP address when s parses as one, else a DNS name. -EINVAL otherwise. */
static int san_parse(const char *s, struct san *ret)
{
        struct san v = {0};

        if (inet_pton(AF_INET, s, v.addr) == 1) {
                v.ip = true;
                v.addr_len = 4;
        } else if (inet_pton(AF_INET6, s, v.addr) == 1) {
                v.ip = true;
                v.addr_len = 16;
        } else if (dns_name_valid(s)) {
                for (size_t i = 0; s[i]; i++)
                        v.dns[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
        } else {
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static bool san_equal(const struct san *a, const struct san *b)
{
        if (a->ip != b->ip)
                return false;
        if (a->ip)
                return a->addr_len == b->addr_len && !memcmp(a->addr, b->addr, a->addr_len);
        return streq(a->dns, b->dns);
}

/* Adds s unless it is there already. */
static int san_list_add(struct san_list *l, const char *s)
{
        struct san v;
        if (san_parse(s, &v) < 0)
                return -EINVAL;
        for (size_t i = 0; i < l->n; i++)
                if (san_equal(&l->v[i], &v))
                        return 0;
        if (l->n == ARRAY_SIZE(l->v))
                return -E2BIG;
        l->v[l->n++] = v;
        return 0;
}

/* gethostname(2), or "" when it fails or is not a DNS name. */
static void host_name(char *out, size_t size)
{
        if (gethostname(out, size) < 0) {
                out[0] = '\0';
                return;
        }
        out[size - 1] = '\0';
        if (!dns_name_valid(out) || str_has_prefix(out, "*."))
                out[0] = '\0';
}

static int sans_requested(const char *const *extra, size_t n, struct san_list *ret,
                          struct berth_error *err)
{
        char host[PKI_DNS_NAME_MAX + 1];

        if (n > PKI_EXTRA_SANS_MAX)
                return berth_error_set(err, -EINVAL, "too many extra SANs: %zu (at most %d)", n,
                                       PKI_EXTRA_SANS_MAX);
        host_name(host, sizeof(host));
        if (host[0])
                (void)san_list_add(ret, host);
        (void)san_list_add(ret, "localhost");
        (void)san_list_add(ret, "127.0.0.1");
        (void)san_list_add(ret, "::1");
        for (size_t i = 0; i < n; i++)
                if (!extra[i] || san_list_add(ret, extra[i]) < 0)
                        return berth_error_set(err, -EINVAL,
                                               "invalid SAN \"%s\": want an IP address or a DNS "
                                               "name",
                                               extra[i] ? extra[i] : "");
        return 0;
}

static bool cert_has_san(X509 *x, const struct san *want)
{
        _cleanup_(general_names_freep) GENERAL_NAMES *gens =
            X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);

        for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
                int type;
                const ASN1_STRING *v = GENERAL_NAME_get0_value(g, &type);
                int len = ASN1_STRING_length(v);
                const unsigned char *data = ASN1_STRING_get0_data(v);
                if (want->ip && type == GEN_IPADD && (size_t)len == want->addr_len &&
                    !memcmp(data, want->addr, want->addr_len))
                        return true;
                if (!want->ip && type == GEN_DNS && (size_t)len == strlen(want->dns) &&
                    !strncasecmp((const char *)data, want->dns, (size_t)len))
                        return true;
        }
        return false;
}

static int general_names_add(GENERAL_NAMES *gens, const struct san *s)
{
        GENERAL_NAME *g = GENERAL_NAME_new();
        ASN1_STRING *v = s->ip ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
        const void *data = s->ip ? (const void *)s->addr : (const void *)s->dns;
        int len = (int)(s->ip ? s->addr_len : strlen(s->dns));

        if (!g || !v || !ASN1_STRING_set(v, data, len)) {
                GENERAL_NAME_free(g);
                ASN1_STRING_free(v);
                return -ENOMEM;
        }
        GENERAL_NAME_set0_value(g, s->ip ? GEN_IPADD : GEN_DNS, v);
        if (!sk_GENERAL_NAME_push(gens, g)) {
                GENERAL_NAME_free(g);
                return -ENOMEM;
        }
        return 0;
}

/* ---- issuing --------------------------------------------------------------- */

enum cert_kind {
        CERT_CA,
        CERT_SERVER,
        CERT_CLIENT,
};

struct cert_request {
        enum cert_kind kind;
        const X509_NAME *subject;
        X509 *issuer;         /* NULL: self-signed (the CA) */
        EVP_PKEY *issuer_key; /* signs; the new key itself for the CA */
        int days;
        time_t now;
        const struct san_list *sans; /* CERT_SERVER */
};

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
        if (!ext)
                return -EINVAL;
        int ok = X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
        return ok ? 0 : -ENOMEM;
}

static int set_random_serial(X509 *x)
{
        unsigned char b[SERIAL_BYTES];

        if (RAND_bytes(b, sizeof(b)) != 1)
                return -EIO;
        b[sizeof(b) - 1] |= b[0] ? 0 : 1; /* never 0 (RFC 5280: positive) */
        BIGNUM *bn = BN_bin2bn(b, sizeof(b), NULL);
        ASN1_INTEGER *serial = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
        int ok = serial && X509_set_serialNumber(x, serial);
        ASN1_INTEGER_free(serial);
        BN_free(bn);
        return ok ? 0 : -ENOMEM;
}

static int cert_extensions(X509 *x, X509 *issuer, const struct cert_request *req)
{
        X509V3_CTX ctx;
        int r = 0;

        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        switch (req->kind) {
        case CERT_CA:
                r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
                if (r == 0)
                        r = add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
                break;
        case CERT_SERVER:
        case CERT_CLIENT:
                r = add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
                if (r == 0)
                        r = add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
                if (r == 0)
                        r = add_ext(x, &ctx, NID_ext_key_usage,
                                    req->kind == CERT_SERVER ? "serverAuth" : "clientAuth");
                break;
        }
        if (r == 0)
                r = add_ext(x, &ctx, NID_subject_key_identifier, "hash");
        if (r == 0)
                r = add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        if (r < 0 || req->kind != CERT_SERVER)
                return r;

        _cleanup_(general_names_freep) GENERAL_NAMES *gens = GENERAL_NAMES_new();
        if (!gens)
                return -ENOMEM;
        for (size_t i = 0; i < req->sans->n; i++)
                if (general_names_add(gens, &req->sans->v[i]) < 0)
                        return -ENOMEM;
        if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
                return -ENOMEM;
        return 0;
}

/* A certificate of req for key, signed by req->issuer_key. */
static int cert_issue(const struct cert_request *req, EVP_PKEY *key, X509 **ret,
                      struct berth_error *err)
{
        _cleanup_(x509_freep) X509 *x = X509_new();
        time_t now = req->now;
        char why[128];

        if (!x || !X509_set_version(x, X509_VERSION_3) || set_random_serial(x) < 0 ||
            !X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_S, &now) ||
            !X509_time_adj_ex(X509_getm_notAfter(x), req->days, 0, &now) ||
            !X509_set_subject_name(x, req->subject) ||
            !X509_set_issuer_name(x, req->issuer ? X509_get_subject_name(req->issuer)
                                                 : req->subject) ||
            !X509_set_pubkey(x, key))
                return berth_error_set(err, -ENOMEM, "make certificate: %s",
                                       pki_ssl_reason(why, sizeof(why)));
        int r = cert_extensions(x, req->issuer, req);
        if (r < 0)
                return berth_error_set(err, r, "certificate extensions: %s",
                                       pki_ssl_reason(why, sizeof(why)));
        if (!X509_sign(x, req->issuer_key, EVP_sha256()))
                return berth_error_set(err, -EIO, "sign certificate: %s",
                                       pki_ssl_reason(why, sizeof(why)));
        *ret = TAKE_PTR(x);
        return 0;
}

static int key_new(EVP_PKEY **ret, struct berth_error *err)
{
        EVP_PKEY *k = EVP_EC_gen("P-256");
        char why[128];
        if (!k)
                return berth_error_set(err, -EIO, "generate an ECDSA P-256 key: %s",
                                       pki_ssl_reason(why, sizeof(why)));
        *ret = k;
        return 0;
}

/* Appends a UTF-8 entry; -EINVAL when X.509 refuses it (too long, say). */
static int name_add(X509_NAME *name, int nid, const char *value)
{
        return X509_NAME_add_entry_by_NID(name, nid, MBSTRING_UTF8, (const unsigned char *)value,
                                          -1, -1, 0)
                   ? 0
                   : -EINVAL;
}

/* ---- the CA ------------------------------------------------------------------ */

struct pki_files {
        char *ca_cert, *ca_key, *server_cert, *server_key;
};

static void pki_files_release(struct pki_files *f)
{
        free(f->ca_cert);
        free(f->ca_key);
        free(f->server_cert);
        free(f->server_key);
}

static int pki_files_init(const char *dir, struct pki_files *f)
{
        *f = (struct pki_files){
            .ca_cert = str_printf("%s/%s", dir, PKI_CA_CERT),
            .ca_key = str_printf("%s/%s", dir, PKI_CA_KEY),
            .server_cert = str_printf("%s/%s", dir, PKI_SERVER_CERT),
            .server_key = str_printf("%s/%s", dir, PKI_SERVER_KEY),
        };
        if (!f->ca_cert || !f->ca_key || !f->server_cert || !f->server_key) {
                pki_files_release(f);
                return -ENOMEM;
        }
        return 0;
}

/* The existing CA: 0, or 1 when ca.crt does not exist (nothing loaded). */
static int ca_load(const struct pki_files *f, time_t now, X509 **ret_cert, EVP_PKEY **ret_key,
                   struct berth_error *err)
{
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;

        int r = load_cert(f->ca_cert, &cert, err);
        if (r == -ENOENT)
                return 1;
        if (r < 0)
                return r;
        r = load_key(f->ca_key, &key, err);
        if (r == -ENOENT)
                return berth_error_set(err, r,
                                       "%s is missing: certificates cannot be issued from %s "
                                       "without it; restore it, or remove %s to make a new CA "
                                       "(clients must then trust the new one)",
                                       f->ca_key, f->ca_cert, f->ca_cert);
        if (r < 0)
                return r;
        if (X509_check_private_key(cert, key) != 1) {
                ERR_clear_error();
                return berth_error_set(err, -EINVAL, "%s does not match %s", f->ca_key, f->ca_cert);
        }
        if (X509_check_ca(cert) == 0)
                return berth_error_set(err, -EINVAL, "%s: not a CA certificate", f->ca_cert);
        if (X509_cmp_time(X509_get0_notAfter(cert), &now) <= 0)
                return berth_error_set(err, -EKEYEXPIRED,
                                       "%s has expired: remove %s and %s to make a new CA "
                                       "(clients must then trust the new one)",
                                       f->ca_cert, f->ca_cert, f->ca_key);
        *ret_cert = TAKE_PTR(cert);
        *ret_key = TAKE_PTR(key);
        return 0;
}

/* Issues req for key and writes both, the key first: a crash in between
 * leaves a key without its certificate, which the next call replaces. The
 * certificate goes to *ret_cert when it is not NULL. */
static int issue_and_write(const struct cert_request *req, EVP_PKEY *key, const char *key_path,
                           const char *cert_path, X509 **ret_cert, struct berth_error *err)
{
        _cleanup_(x509_freep) X509 *cert = NULL;
        int r = cert_issue(req, key, &cert, err);

        if (r == 0)
                r = write_pem(key_path, NULL, key, err);
        if (r == 0)
                r = write_pem(cert_path, cert, NULL, err);
        if (r == 0 && ret_cert)
                *ret_cert = TAKE_PTR(cert);
        return r;
}

static int ca_create(const struct pki_files *f, time_t now, X509 **ret_cert, EVP_PKEY **ret_key,
                     struct berth_error *err)
{
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_name_freep) X509_NAME *name = X509_NAME_new();
        char host[PKI_DNS_NAME_MAX + 1], cn[PKI_NAME_MAX + 1];

        /* The host in the name tells one berthd's CA from another's in a
         * client's trust store. */
        host_name(host, sizeof(host));
        snprintf(cn, sizeof(cn), "berth CA%s%.55s", host[0] ? " " : "", host);
        if (!name || name_add(name, NID_organizationName, "berth") < 0 ||
            name_add(name, NID_commonName, cn) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = key_new(&key, err);
        if (r < 0)
                return r;
        const struct cert_request req = {
            .kind = CERT_CA,
            .subject = name,
            .issuer_key = key,
            .days = PKI_CA_DAYS,
            .now = now,
        };
        r = issue_and_write(&req, key, f->ca_key, f->ca_cert, &cert, err);
        if (r < 0)
                return r;
        *ret_cert = TAKE_PTR(cert);
        *ret_key = TAKE_PTR(key);
        return 0;
}

/* ---- the server certificate ------------------------------------------------- */

/* 1 when the server certificate must be (re-)issued, 0 when it is fine, or
 * -errno (an existing file that cannot be read). why says what is wrong. */
static int server_check(const struct pki_files *f, X509 *ca, const struct san_list *sans,
                        time_t now, char *why, size_t why_size, struct berth_error *err)
{
        _cleanup_(x509_freep) X509 *cert = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;

        int r = load_cert(f->server_cert, &cert, err);
        if (r == -ENOENT) {
                snprintf(why, why_size, "missing");
                return 1;
        }
        if (r < 0)
                return r;
        r = load_key(f->server_key, &key, err);
        if (r == -ENOENT) {
                snprintf(why, why_size, "key missing");
                return 1;
        }
        if (r < 0)
                return r;
        /* A crash between writing the key and the certificate leaves a pair
         * that does not match. */
        if (X509_check_private_key(cert, key) != 1) {
                ERR_clear_error();
                snprintf(why, why_size, "key does not match");
                return 1;
        }
        if (X509_check_issued(ca, cert) != X509_V_OK ||
            X509_verify(cert, X509_get0_pubkey(ca)) != 1) {
                ERR_clear_error();
                snprintf(why, why_size, "not signed by the CA");
                return 1;
        }
        time_t renew = now + (time_t)PKI_RENEW_DAYS * DAY_S;
        if (X509_cmp_time(X509_get0_notAfter(cert), &renew) <= 0) {
                snprintf(why, why_size, "ends within %d days", PKI_RENEW_DAYS);
                return 1;
        }
        for (size_t i = 0; i < sans->n; i++) {
                if (cert_has_san(cert, &sans->v[i]))
                        continue;
                if (sans->v[i].ip) {
                        char ip[INET6_ADDRSTRLEN];
                        inet_ntop(sans->v[i].addr_len == 4 ? AF_INET : AF_INET6, sans->v[i].addr,
                                  ip, sizeof(ip));
                        snprintf(why, why_size, "lacks SAN %s", ip);
                } else {
                        snprintf(why, why_size, "lacks SAN %s", sans->v[i].dns);
                }
                return 1;
        }
        return 0;
}

static int server_issue(const struct pki_files *f, X509 *ca, EVP_PKEY *ca_key,
                        const struct san_list *sans, time_t now, struct berth_error *err)
{
        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        _cleanup_(x509_name_freep) X509_NAME *name = X509_NAME_new();

        if (!name || name_add(name, NID_organizationName, "berth") < 0 ||
            name_add(name, NID_commonName, "berthd") < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = key_new(&key, err);
        if (r < 0)
                return r;
        const struct cert_request req = {
            .kind = CERT_SERVER,
            .subject = name,
            .issuer = ca,
            .issuer_key = ca_key,
            .days = PKI_SERVER_DAYS,
            .now = now,
            .sans = sans,
        };
        return issue_and_write(&req, key, f->server_key, f->server_cert, NULL, err);
}

int pki_ensure_at(const char *dir, const char *const *extra_sans, size_t n, time_t now,
                  struct berth_error *err)
{
        if (!dir || !dir[0])
                return berth_error_set(err, -EINVAL, "pki: no directory");
        _cleanup_free_ struct san_list *sans = calloc(1, sizeof(*sans));
        if (!sans)
                return berth_error_set(err, -ENOMEM, "out of memory");
        int r = sans_requested(extra_sans, n, sans, err);
        if (r < 0)
                return r;
        r = mkdir_p(dir, 0700);
        if (r < 0)
                return berth_error_set(err, r, "create %s: %s", dir, strerror(-r));
        _cleanup_(pki_files_release) struct pki_files f = {0};
        if (pki_files_init(dir, &f) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");

        _cleanup_(x509_freep) X509 *ca = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *ca_key = NULL;
        int made = 0;
        r = ca_load(&f, now, &ca, &ca_key, err);
        if (r > 0) {
                r = ca_create(&f, now, &ca, &ca_key, err);
                made |= PKI_MADE_CA;
        }
        if (r < 0)
                return r;

        char why[128] = "";
        r = made & PKI_MADE_CA ? 1 : server_check(&f, ca, sans, now, why, sizeof(why), err);
        if (r < 0)
                return r;
        if (r > 0) {
                r = server_issue(&f, ca, ca_key, sans, now, err);
                if (r < 0)
                        return r;
                made |= PKI_MADE_SERVER;
        }
        return made;
}

int pki_ensure(const char *dir, const char *const *extra_sans, size_t n, struct berth_error *err)
{
        return pki_ensure_at(dir, extra_sans, n, time(NULL), err);
}

/* ---- client certificates ------------------------------------------------------- */

static bool name_valid(const char *s)
{
        size_t len = s ? strlen(s) : 0;
        return len > 0 && len <= PKI_NAME_MAX && utf8_valid(s, len);
}

int pki_issue_client(const char *dir, const char *user, const char *const *groups, size_t n_groups,
                     int days, const char *cert_path, const char *key_path, struct berth_error *err)
{
        if (!dir || !cert_path || !key_path)
                return berth_error_set(err, -EINVAL, "pki: no directory or output path");
        if (!name_valid(user))
                return berth_error_set(err, -EINVAL,
                                       "invalid user name: want 1..%d bytes of "
                                       "UTF-8",
                                       PKI_NAME_MAX);
        if (n_groups > PKI_GROUPS_MAX)
                return berth_error_set(err, -EINVAL, "too many groups: %zu (at most %d)", n_groups,
                                       PKI_GROUPS_MAX);
        if (days < 1 || days > PKI_CA_DAYS)
                return berth_error_set(err, -EINVAL, "invalid validity: %d days (want 1..%d)", days,
                                       PKI_CA_DAYS);
        _cleanup_(x509_name_freep) X509_NAME *name = X509_NAME_new();
        if (!name)
                return berth_error_set(err, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n_groups; i++) {
                if (!name_valid(groups[i]))
                        return berth_error_set(err, -EINVAL,
                                               "invalid group name: want 1..%d bytes of UTF-8",
                                               PKI_NAME_MAX);
                if (name_add(name, NID_organizationName, groups[i]) < 0)
                        return berth_error_set(err, -EINVAL, "invalid group name \"%s\"",
                                               groups[i]);
        }
        if (name_add(name, NID_commonName, user) < 0)
                return berth_error_set(err, -EINVAL, "invalid user name \"%s\"", user);

        _cleanup_(pki_files_release) struct pki_files f = {0};
        if (pki_files_init(dir, &f) < 0)
                return berth_error_set(err, -ENOMEM, "out of memory");
        time_t now = time(NULL);
        _cleanup_(x509_freep) X509 *ca = NULL;
        _cleanup_(pkey_freep) EVP_PKEY *ca_key = NULL;
        int r = ca_load(&f, now, &ca, &ca_key, err);
        if (r > 0)
                return berth_error_set(err, -ENOENT,
                                       "%s: no CA (berthd makes it on its first start "
                                       "with an https listener)",
                                       f.ca_cert);
        if (r < 0)
                return r;

        _cleanup_(pkey_freep) EVP_PKEY *key = NULL;
        r = key_new(&key, err);
        if (r < 0)
                return r;
        const struct cert_request req = {
            .kind = CERT_CLIENT,
            .subject = name,
            .issuer = ca,
            .issuer_key = ca_key,
            .days = days,
            .now = now,
        };
        return issue_and_write(&req, key, key_path, cert_path, NULL, err);
}

/* ---- tokens --------------------------------------------------------------------- */

int pki_token_new(const char *prefix, char **ret)
{
        unsigned char raw[PKI_TOKEN_BYTES];
        size_t got = 0;

        if (!prefix || strlen(prefix) > PKI_TOKEN_PREFIX_MAX)
                return -EINVAL;
        while (got < sizeof(raw)) {
                ssize_t k = getrandom(raw + got, sizeof(raw) - got, 0);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                got += (size_t)k;
        }
        _cleanup_free_ char *b64 = base64_encode(raw, sizeof(raw));
        explicit_bzero(raw, sizeof(raw));
        if (!b64)
                return -ENOMEM;
        /* RFC 4648 section 5: URL- and header-safe, no padding. */
        size_t len = strlen(b64);
        while (len > 0 && b64[len - 1] == '=')
                b64[--len] = '\0';
        for (size_t i = 0; i < len; i++)
                b64[i] = b64[i] == '+' ? '-' : b64[i] == '/' ? '_' : b64[i];
        char *token = str_printf("%s%s", prefix, b64);
        explicit_bzero(b64, len);
        if (!token)
                return -ENOMEM;
        *ret = token;
        return 0;
}

/* "berth-admin." and 1..TOKEN_TEXT_MAX characters of base64url. */
static bool admin_token_valid(const char *s, size_t len)
{
        size_t plen = strlen(PKI_ADMIN_TOKEN_PREFIX);

        if (len <= plen || len - plen > TOKEN_TEXT_MAX || strncmp(s, PKI_ADMIN_TOKEN_PREFIX, plen))
                return false;
        for (size_t i = plen; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

int pki_admin_token_ensure(const char *dir, char **ret_token, struct berth_error *err)
{
        if (!dir || !dir[0])
                return berth_error_set(err, -EINVAL, "pki: no directory");
        _cleanup_free_ char *path = str_printf("%s/%s", dir, PKI_ADMIN_TOKEN);
        if (!path)
                return berth_error_set(err, -ENOMEM, "out of memory");

        _cleanup_(blob_release) struct blob b = {0};
        int r = read_file(path, &b, err);
        if (r == 0) {
                size_t len = b.len;
                while (len > 0 && (b.data[len - 1] == '\n' || b.data[len - 1] == '\r'))
                        len--;
                if (!admin_token_valid(b.data, len))
                        return berth_error_set(err, -EINVAL,
                                               "%s: not a berth admin token (one line, "
                                               "%s...); remove it to make a new one",
                                               path, PKI_ADMIN_TOKEN_PREFIX);
                char *token = strndup(b.data, len);
                if (!token)
                        return berth_error_set(err, -ENOMEM, "out of memory");
                *ret_token = token;
                return 0;
        }
        if (r != -ENOENT)
                return r;

        r = mkdir_p(dir, 0700);
        if (r < 0)
                return berth_error_set(err, r, "create %s: %s", dir, strerror(-r));
        _cleanup_free_ char *token = NULL;
        r = pki_token_new(PKI_ADMIN_TOKEN_PREFIX, &token);
        if (r < 0)
                return berth_error_set(err, r, "make a token: %s", strerror(-r));
        size_t len = strlen(token);
        token[len] = '\n'; /* written as one line; the NUL is restored below */
        r = write_file_atomic(path, 0600, token, len + 1, err);
        token[len] = '\0';
        if (r < 0) {
                explicit_bzero(token, len);
                return r;
        }
        *ret_token = TAKE_PTR(token);
        return 1;
}
