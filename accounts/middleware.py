class FrenchFirstMiddleware:
    """French unless the user picked another language with the switch (cookie): the browser's
    Accept-Language is ignored, so an English-configured laptop in a French council still gets French."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
