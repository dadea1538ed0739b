# -*- test-case-name: tests.test_certificates,tests.test_http2,tests.test_reload_certificates -*-
"""
TLS certificates read again without a restart: on C{SIGHUP}, or when asked;
and the ALPN answer RFC 7301 asks for when a client offers no protocol the
site speaks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from OpenSSL.crypto import Error as CryptoError
from OpenSSL.SSL import NO_OVERLAPPING_PROTOCOLS
from OpenSSL.SSL import Error as TLSError
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.internet.interfaces import (
    IOpenSSLContextFactory,
    IOpenSSLServerConnectionCreator,
    IProtocolNegotiationFactory,
)
from twisted.logger import Logger
from zope.interface import implementer

from camserve.access._hangup import HangupService

if TYPE_CHECKING:
    from collections.abc import Sequence

    from OpenSSL.SSL import Connection, Context, _NoOverlappingProtocols
    from twisted.internet.interfaces import IStreamServerEndpoint
    from twisted.protocols.tls import TLSMemoryBIOProtocol


@implementer(IOpenSSLServerConnectionCreator, IOpenSSLContextFactory)
class ReloadableCertificates:
    """
    The TLS settings of one C{ssl:} endpoint, made again from its
    description when asked, so that new connections get the certificate
    now in the files. Connections already made keep theirs.

    Twisted's TLS wrapper asks for each new connection from the reactor
    thread; L{reload} is called in the reactor thread too.
    """

    _log = Logger()
    _negotiating: Context | None = None

    def __init__(self, description: str, current: Any, reactor: Any) -> None:
        """
        @param description: the endpoint's description, parsed again on each
            reload so that every C{ssl:} option applies; relative file names
            are read from the working directory of that time.
        @param current: the settings the endpoint was made with (a
            L{twisted.internet.ssl.CertificateOptions}).
        @param reactor: given to L{serverFromString}.
        """
        self._description = description
        self._current = current
        self._reactor = reactor

    def serverConnectionForTLS(self, protocol: TLSMemoryBIOProtocol) -> Connection:
        """
        A TLS connection for a new client, from the current settings, whose
        ALPN choice is L{select_protocol}'s.
        """
        # Before the connection: pyOpenSSL refuses to change a context that
        # has made one.
        self._negotiate(self._current.getContext())
        connection: Connection = self._current.serverConnectionForTLS(protocol)
        return connection

    def getContext(self) -> Context:
        """
        The current settings' OpenSSL context, for Twisted's older API.
        """
        context: Context = self._current.getContext()
        self._negotiate(context)
        return context

    def _negotiate(self, context: Context) -> None:
        """
        Let L{select_protocol} choose the ALPN protocol on C{context}, in
        place of the chooser Twisted put there, once per context and before
        it makes its first connection: the settings keep one context until
        reloaded.
        """
        if context is not self._negotiating:
            context.set_alpn_select_callback(select_protocol)
            self._negotiating = context

    def reload(self) -> bool:
        """
        Read the key and certificate files again. If they cannot be used
        (missing, unreadable, or a key that does not match), the certificate
        in use stays, and one error is logged: a line naming the endpoint
        and why.

        @return: whether the new files are in use.
        """
        try:
            endpoint = serverFromString(self._reactor, self._description)
            options = context_factory(endpoint)
            # Make the OpenSSL context now: a key that does not match its
            # certificate shows only here, not when the files are parsed.
            options.getContext()
        except Exception as error:  # noqa: BLE001 - whatever the files hold, keep serving
            self._log.error(
                "camserve: cannot read the TLS certificate for {description}"
                " again, keeping the one in use: {error}",
                description=self._description,
                error=tls_error_reason(error),
            )
            return False
        self._current = options
        self._log.info(
            "camserve: read the TLS certificate for {description} again",
            description=self._description,
        )
        return True


def tls_error_reason(error: Exception) -> str:
    """
    Why TLS files could not be used, in one line: OpenSSL's reasons, each
    after its library, rather than the list of tuples its errors show.
    """
    queue = error.args[0] if isinstance(error, CryptoError | TLSError) else None
    if isinstance(queue, list) and queue:
        text = "; ".join(
            f"{library}: {reason}" if library else reason
            for library, _, reason in queue
        )
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.filename}: {error.strerror}"
    else:
        text = f"{type(error).__name__}: {error}"
    return " ".join(text.split())


def select_protocol(
    connection: Connection, offered: list[bytes]
) -> bytes | _NoOverlappingProtocols:
    """
    The ALPN protocol for a new TLS connection: the first of its site's
    protocols (camserve's offers only C{http/1.1}, see
    L{camserve.access._site.CamserveSite.acceptableProtocols}) that the client
    offered. Called by OpenSSL during the handshake, in the reactor thread.

    @param offered: the protocols the client offered, in its order.
    @return: the protocol chosen; L{NO_OVERLAPPING_PROTOCOLS} if the site
        names none, so that the handshake goes on without ALPN.
    @raise OpenSSL.SSL.Error: if the client offered none of the site's, so
        that OpenSSL ends the handshake with the C{no_application_protocol}
        alert RFC 7301 asks for: an C{h2}-only client is told plainly.
        Twisted's own chooser returns an empty name there, which OpenSSL
        answers with C{internal_error}, an alert that reads as a server bug.
    """
    site = connection.get_app_data().factory.wrappedFactory
    negotiation = IProtocolNegotiationFactory(site, None)
    if negotiation is None:
        return NO_OVERLAPPING_PROTOCOLS
    for each in negotiation.acceptableProtocols():
        if each in offered:
            chosen: bytes = each
            return chosen
    # In the shape of OpenSSL's own errors (a queue of library, function
    # and reason), which Twisted reads when the handshake fails.
    raise TLSError([("SSL routines", "", "no application protocol")])


def context_factory(endpoint: IStreamServerEndpoint) -> Any:
    """
    The TLS settings of an C{ssl:} endpoint, which Twisted keeps in a
    private attribute (L{tests.test_certificates} fails if it moves).

    @raise TypeError: for any other endpoint.
    """
    if not isinstance(endpoint, SSL4ServerEndpoint):
        raise TypeError(f"not an ssl: endpoint: {endpoint!r}")
    return endpoint._sslContextFactory  # noqa: SLF001 - see the docstring


def reloadable(
    description: str, endpoint: IStreamServerEndpoint, reactor: Any
) -> ReloadableCertificates | None:
    """
    Make an C{ssl:} endpoint's certificate reloadable: its settings are
    replaced with a L{ReloadableCertificates} around them, which is
    returned. Any other endpoint is left alone, and L{None} returned.
    """
    if not isinstance(endpoint, SSL4ServerEndpoint):
        return None
    certificates = ReloadableCertificates(
        description, context_factory(endpoint), reactor
    )
    endpoint._sslContextFactory = certificates  # noqa: SLF001 - see context_factory
    return certificates


class CertificateReloader(HangupService):
    """
    Reads the certificates again on C{SIGHUP} while running, where no
    L{camserve.config._reload.ConfigReloader} does (the one-camera command line).
    """

    def __init__(
        self, certificates: Sequence[ReloadableCertificates], reactor: Any
    ) -> None:
        """
        @param reactor: provides C{IReactorFromThreads}, for the signal.
        """
        self._certificates = certificates
        self._reactor = reactor

    def reload(self) -> None:
        """
        Read every certificate again.
        """
        reload_all(self._certificates)


def reload_all(certificates: Sequence[ReloadableCertificates]) -> None:
    """
    Read each certificate again; one that fails does not stop the others.
    """
    for each in certificates:
        each.reload()
