"""The README's recipe for an upstream written in Python: is this X-Postern-Jwt-Assertion the gateway's?

Arguments: the header's value, Postern's certs URL, the service URL (the audience), and the
gateway's issuer (the Postern issuer followed by /gateway). Prints {"ok": true, "email": ...} or
{"ok": false, "error": ...}. verify_token checks the signature, the audience and the expiry; it
checks no issuer and no typ, so the recipe does.
"""
import json
import sys

import google.auth.transport.requests
from google.auth import jwt
from google.oauth2 import id_token

assertion, certs_url, audience, issuer = sys.argv[1:5]
try:
    claims = id_token.verify_token(assertion, google.auth.transport.requests.Request(), audience=audience, certs_url=certs_url)
    if claims.get('iss') != issuer:
        raise ValueError('not issued by the gateway: iss is %r' % claims.get('iss'))
    if jwt.decode_header(assertion).get('typ') != 'postern-assertion+jwt':
        raise ValueError('not an assertion: typ is %r' % jwt.decode_header(assertion).get('typ'))
    print(json.dumps({'ok': True, 'email': claims.get('email'), 'service': claims.get('service')}))
except ValueError as e:
    print(json.dumps({'ok': False, 'error': str(e)}))
