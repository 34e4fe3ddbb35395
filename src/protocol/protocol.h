#pragma once
// Everything the protocol layer offers, for callers that want it all.

#include "protocol/api.h"        // ApiInfo, find_api, header version rules
#include "protocol/codec.h"      // encode_to_vector, decode_exact
#include "protocol/dispatch.h"   // visit_request_type, visit_response_type
#include "protocol/headers.h"    // request/response header codecs
#include "protocol/messages.h"   // every generated message struct
