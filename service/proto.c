/* proto: the synchronous driver of a protocol session (see proto.h), for
 * callers without an event loop: unit tests, fuzz targets and tools. The
 * service's connection layer (server.c) carries out the same requests
 * without blocking, with login limits and back-off. */
#include "proto.h"

#include "ism_mail.h"

#include <openssl/crypto.h>

ism_proto_action ism_proto_feed(const ism_proto_ops *ops, void *st, const ism_proto_env *env, const char *line,
                                size_t len, ism_buf *out)
{
    ism_proto_action a = ops->line(st, env, line, len, out);
    for (;;) {
        switch (a) {
        case ISM_PROTO_AUTH: {
            ism_auth_result r = !env->mail                                         ? ISM_AUTH_UNAVAILABLE
                                : ism_mail_auth(env->mail, env->req->user, env->req->pass) ? ISM_AUTH_OK
                                                                                   : ISM_AUTH_FAILED;
            OPENSSL_cleanse(env->req->pass, sizeof env->req->pass);
            a = ops->auth_done(st, env, r, out);
            break;
        }
        case ISM_PROTO_MORE:
            a = ops->more(st, env, out);
            break;
        case ISM_PROTO_PAUSE:
            a = ISM_PROTO_CONTINUE;
            break;
        default:
            return a;
        }
    }
}
