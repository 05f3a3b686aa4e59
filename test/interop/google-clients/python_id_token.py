"""google-auth for Python (Debian's python3-google-auth), used as an application uses it: an ID
token credential from a service-account key file, refreshed and sent through the gateway, then
verified with id_token.verify_token against a Google-style certs URL. Prints JSON."""
import json
import sys
import time

from google.auth import exceptions
from google.auth.transport.requests import AuthorizedSession, Request
from google.oauth2 import id_token, service_account

key_file, audience, gateway, host, certs_url, count = sys.argv[1:7]
request = Request()
credentials = [service_account.IDTokenCredentials.from_service_account_file(key_file, target_audience=audience) for _ in range(int(count))]
try:
    started = time.time()
    for c in credentials:
        c.refresh(request)
    finished = time.time()
except exceptions.RefreshError as err:
    print(json.dumps({'refresh_error': str(err)}))
    sys.exit(0)

claims = id_token.verify_token(credentials[-1].token, request, audience=audience, certs_url=certs_url)
# requests cannot resolve *.localhost names: the call goes to the gateway's address with the service's Host.
answer = AuthorizedSession(credentials[-1]).get(gateway + '/echo', headers={'Host': host})
print(json.dumps({
    'status': answer.status_code,
    'body': answer.text,
    'claims': claims,
    'tokens': [c.token for c in credentials],
    'same_second': int(started) == int(finished),
}))
